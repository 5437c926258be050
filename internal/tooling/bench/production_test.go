package bench

import (
	"os"
	"path/filepath"
	"testing"
)

// TestComposeMaxConnections: the private cluster is sized as docker-compose.yml sizes
// its Postgres, and by pgserver's default when the file does not say.
func TestComposeMaxConnections(t *testing.T) {
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	if got := composeMaxConnections(root); got != 200 {
		t.Errorf("the repository's docker-compose.yml: %d, want 200", got)
	}
	dir := t.TempDir()
	if got := composeMaxConnections(dir); got != 200 {
		t.Errorf("no compose file: %d, want the default 200", got)
	}
	compose := `services:
  postgres:
    command: ["postgres", "-c", "max_connections=350"]
`
	if err := os.WriteFile(filepath.Join(dir, "docker-compose.yml"), []byte(compose), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := composeMaxConnections(dir); got != 350 {
		t.Errorf("compose file with max_connections=350: %d", got)
	}
}
