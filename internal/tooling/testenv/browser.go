package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// EnvChromium names the Chromium (or Chrome) binary the browser tests drive.
const EnvChromium = "RETRYD_CHROMIUM"

// Chromium returns the path of a Chromium binary for the browser tests, or skips/fails
// the test when there is none. .ci/run installs Debian's chromium package.
func Chromium(t testing.TB) string {
	t.Helper()
	if p := os.Getenv(EnvChromium); p != "" {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
			return p
		}
		missing(t, "testenv: %s=%s is not an executable file", EnvChromium, p)
	}
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	missing(t, "testenv: Chromium not found; install it (apt-get install -y chromium; .ci/run does) or set %s", EnvChromium)
	return ""
}
