package topology

import (
	"os"
	"path/filepath"
	"testing"
)

func TestReadSettings(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "deploy"), 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(root, "deploy", "temporal.env"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("# pools\nSQL_MAX_CONNS=10\n\nSQL_VIS_MAX_CONNS=4\nNUM_HISTORY_SHARDS=16\nDB=postgres12\n")
	s, err := ReadSettings(root)
	if err != nil {
		t.Fatal(err)
	}
	if s.MaxConns() != 56 || s.HistoryShards() != 16 || s["DB"] != "postgres12" {
		t.Fatalf("settings %v: MaxConns %d (want 4 × (10 + 4) = 56), HistoryShards %d (want 16)", s, s.MaxConns(), s.HistoryShards())
	}
	write("SQL_MAX_CONNS 10\n")
	if _, err := ReadSettings(root); err == nil {
		t.Fatalf("a line without = was accepted")
	}
}
