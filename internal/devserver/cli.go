// Package devserver finds (or builds) the Temporal CLI and runs its development server
// (`temporal server start-dev`) as a child process, for local runs and integration tests.
//
// The CLI is built from source with `go install` rather than downloaded: the module proxy
// is the one source every developer and CI machine can reach, and pinning the module
// version pins the server version (CLI v1.5.1 embeds Temporal Server 1.29.1).
package devserver

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"
)

// CLIModule is the package `go install` builds the Temporal CLI from.
const CLIModule = "github.com/temporalio/cli/cmd/temporal"

// CLIVersion is pinned: later tags carry a replace directive in their go.mod, which
// `go install pkg@version` refuses.
const CLIVersion = "v1.5.1"

// EnvCLIPath overrides where the CLI binary lives (scripts/test.sh exports it so that
// tests and scripts agree on one binary).
const EnvCLIPath = "RETRYD_TEMPORAL_CLI"

// DefaultCLIPath is $RETRYD_TEMPORAL_CLI if set, else
// $XDG_CACHE_HOME/retryd/temporal-v1.5.1/temporal ($XDG_CACHE_HOME defaulting to ~/.cache).
// scripts/temporal-cli.sh applies the same rule; keep the two in step.
func DefaultCLIPath() string {
	if p := os.Getenv(EnvCLIPath); p != "" {
		return p
	}
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		// os.UserCacheDir is not used on purpose: on macOS it answers ~/Library/Caches,
		// and the shell script, which cannot ask Go, would look elsewhere.
		home, err := os.UserHomeDir()
		if err != nil {
			home = os.TempDir()
		}
		cache = filepath.Join(home, ".cache")
	}
	return filepath.Join(cache, "retryd", "temporal-"+CLIVersion, "temporal")
}

// Ensure returns DefaultCLIPath() if it is an executable file, and otherwise builds the
// CLI there with `go install`. log may be nil.
func Ensure(ctx context.Context, log *slog.Logger) (string, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	path := DefaultCLIPath()
	if isExecutable(path) {
		return path, nil
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("temporal CLI not found at %s, and building it needs the go command, which is not on PATH: %w", path, err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("resolve %s: %w", path, err)
	}
	dir := filepath.Dir(abs)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create %s: %w", dir, err)
	}
	// Build into a private directory next to the target and rename: an interrupted build
	// never leaves a half-written binary at the path Ensure trusts, and a target whose
	// name is not "temporal" (RETRYD_TEMPORAL_CLI=/x/tcli) still works.
	tmp, err := os.MkdirTemp(dir, ".build-")
	if err != nil {
		return "", fmt.Errorf("create build dir in %s: %w", dir, err)
	}
	defer func() { _ = os.RemoveAll(tmp) }()

	log.Info("building the Temporal CLI with go install; this takes about 5 minutes the first time",
		"module", CLIModule, "version", CLIVersion, "path", abs)
	started := time.Now()
	cmd := exec.CommandContext(ctx, goBin, "install", CLIModule+"@"+CLIVersion)
	cmd.Env = append(os.Environ(), "GOBIN="+tmp)
	// The working directory does not matter to `go install pkg@version`, but a go.work
	// around the caller's directory could; the build dir has none.
	cmd.Dir = tmp
	lw := &lineLogger{log: log}
	cmd.Stdout = lw
	cmd.Stderr = lw
	runErr := cmd.Run()
	lw.flush()
	if runErr != nil {
		return "", fmt.Errorf("go install %s@%s: %w", CLIModule, CLIVersion, runErr)
	}
	if err := os.Rename(filepath.Join(tmp, "temporal"), abs); err != nil {
		return "", fmt.Errorf("move built CLI into place: %w", err)
	}
	log.Info("built the Temporal CLI", "path", abs, "took", time.Since(started).Round(time.Second))
	return path, nil
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// lineLogger turns go's progress output into log records, one per line, so a
// five-minute build shows signs of life.
type lineLogger struct {
	log *slog.Logger
	mu  sync.Mutex
	buf []byte
}

func (w *lineLogger) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		if line := bytes.TrimSpace(w.buf[:i]); len(line) > 0 {
			w.log.Info("go install: " + string(line))
		}
		w.buf = w.buf[i+1:]
	}
	return len(p), nil
}

func (w *lineLogger) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if line := bytes.TrimSpace(w.buf); len(line) > 0 {
		w.log.Info("go install: " + string(line))
	}
	w.buf = nil
}

// tailBuffer keeps the last max bytes written, so a failed start can say why.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.max; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

// String returns the tail, starting at a line boundary when one is available.
func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.buf
	if len(s) >= b.max {
		if i := bytes.IndexByte(s, '\n'); i >= 0 {
			s = s[i+1:]
		}
	}
	var out bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(s))
	sc.Buffer(make([]byte, 0, 4096), len(s)+1)
	for sc.Scan() {
		out.WriteString("    ")
		out.Write(sc.Bytes())
		out.WriteByte('\n')
	}
	return out.String()
}
