package tooling_test

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/headshotpro/retryd"

// The service stands on its own: no package outside internal/tooling imports one inside
// it (tests aside), so the binary carries none of the tooling and a reader of the service
// never has to open it.
func TestServiceImportsNoTooling(t *testing.T) {
	out, err := exec.Command("go", "list", module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var product []string
	for _, p := range strings.Fields(string(out)) {
		if !strings.HasPrefix(p, module+"/internal/tooling") {
			product = append(product, p)
		}
	}
	if len(product) < 10 {
		t.Fatalf("found only %d service packages: %v", len(product), product)
	}
	args := append([]string{"list", "-deps", "-f", "{{.ImportPath}}"}, product...)
	deps, err := exec.Command("go", args...).Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, d := range strings.Fields(string(deps)) {
		if strings.HasPrefix(d, module+"/internal/tooling") {
			t.Errorf("a service package depends on %s", d)
		}
	}
}
