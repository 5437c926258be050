package topology

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Settings are the Temporal server's settings of deploy/temporal.env, the file compose
// and scripts/temporal-server.sh both read.
type Settings map[string]string

// ReadSettings parses deploy/temporal.env under repoRoot: NAME=value lines, blank lines
// and # comments.
func ReadSettings(repoRoot string) (Settings, error) {
	path := filepath.Join(repoRoot, "deploy", "temporal.env")
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s := Settings{}
	for _, line := range strings.Split(string(raw), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("%s: %q is not NAME=value", path, line)
		}
		s[k] = v
	}
	return s, nil
}

// HistoryShards is NUM_HISTORY_SHARDS (0 when unset).
func (s Settings) HistoryShards() int { return s.int("NUM_HISTORY_SHARDS") }

// MaxConns is the most Postgres connections the server opens: it runs four roles
// (frontend, history, matching, worker) in one process, each with a pool to the
// persistence database and one to the visibility database.
func (s Settings) MaxConns() int { return 4 * (s.int("SQL_MAX_CONNS") + s.int("SQL_VIS_MAX_CONNS")) }

func (s Settings) int(key string) int {
	n, _ := strconv.Atoi(s[key])
	return n
}
