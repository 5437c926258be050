package pgserver

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/headshotpro/retryd/internal/tooling/freeport"
)

// DefaultMaxConnections is docker-compose.yml's setting: Postgres's own default of 100
// cannot hold a production topology's pools.
const DefaultMaxConnections = 200

// Options shape a cluster.
type Options struct {
	Port           int    // 0 picks a free one
	MaxConnections int    // 0 is DefaultMaxConnections
	TempPrefix     string // the temp dir's name prefix, so a leftover says whose it is
	// FsyncOff trades durability against a machine crash for less disk traffic: right
	// for a suite that crashes processes on a shared disk, wrong for one that measures
	// what a commit costs.
	FsyncOff bool
}

// Server is one private cluster. New creates it, Start runs it, Close stops it and
// removes its data and log.
type Server struct {
	bin      string // directory of initdb and pg_ctl
	dir      string // owned by the cluster's user
	data     string
	port     int
	maxConns int
	fsyncOff bool
	asPG     bool // root cannot run Postgres: commands go through runuser -u postgres
}

// New finds the binaries and runs initdb into a fresh temp dir; the cluster is not
// started. It returns ErrNoBinaries when the machine has no Postgres server installed.
func New(ctx context.Context, opts Options) (*Server, error) {
	bin, err := findBin()
	if err != nil {
		return nil, err
	}
	if opts.Port == 0 {
		ports, err := freeport.Pick(1)
		if err != nil {
			return nil, err
		}
		opts.Port = ports[0]
	}
	if opts.MaxConnections == 0 {
		opts.MaxConnections = DefaultMaxConnections
	}
	if opts.TempPrefix == "" {
		opts.TempPrefix = "retryd-pg-"
	}
	// Not t.TempDir or a caller's dir: their parents may be private to root, and the
	// cluster runs as postgres.
	dir, err := os.MkdirTemp("", opts.TempPrefix)
	if err != nil {
		return nil, err
	}
	s := &Server{bin: bin, dir: dir, data: filepath.Join(dir, "data"), port: opts.Port, maxConns: opts.MaxConnections, fsyncOff: opts.FsyncOff, asPG: os.Geteuid() == 0}
	if s.asPG {
		u, err := user.Lookup("postgres")
		if err != nil {
			_ = os.RemoveAll(dir)
			return nil, fmt.Errorf("running as root needs a postgres user: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			_ = os.RemoveAll(dir)
			return nil, err
		}
	}
	if out, err := s.run(ctx, "initdb", "-D", s.data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %w\n%s", err, out)
	}
	return s, nil
}

func (s *Server) run(ctx context.Context, tool string, args ...string) ([]byte, error) {
	path := filepath.Join(s.bin, tool)
	var cmd *exec.Cmd
	if s.asPG {
		cmd = exec.CommandContext(ctx, "runuser", append([]string{"-u", "postgres", "--", path}, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, path, args...)
	}
	cmd.Dir = s.dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.Bytes(), err
}

// URL is the connection URL of database name, as the superuser postgres (trust auth).
func (s *Server) URL(name string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.port, name)
}

// Port is the loopback port the cluster listens on.
func (s *Server) Port() int { return s.port }

// MaxConnections is the cluster's max_connections.
func (s *Server) MaxConnections() int { return s.maxConns }

// Version is the major version of the binaries the cluster runs.
func (s *Server) Version() int { return versionOf(s.bin) }

// LogPath is the server's log file; Close removes it.
func (s *Server) LogPath() string { return filepath.Join(s.dir, "postgres.log") }

// Start runs the cluster and waits until it accepts connections. After Crash or Stop it
// starts it again on the same data and port.
func (s *Server) Start(ctx context.Context) error {
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c max_connections=%d", s.port, s.dir, s.maxConns)
	if s.fsyncOff {
		opts += " -c fsync=off"
	}
	out, err := s.run(ctx, "pg_ctl", "-D", s.data, "-l", s.LogPath(), "-o", opts, "-w", "-t", "60", "start")
	if err != nil {
		return fmt.Errorf("pg_ctl start: %w\n%s", err, out)
	}
	return nil
}

// Crash stops the cluster the way a power cut would (immediate mode: no checkpoint,
// connections dropped), so the next start runs crash recovery.
func (s *Server) Crash(ctx context.Context) error {
	out, err := s.run(ctx, "pg_ctl", "-D", s.data, "-m", "immediate", "-w", "stop")
	if err != nil {
		return fmt.Errorf("pg_ctl stop: %w\n%s", err, out)
	}
	return nil
}

// Stop shuts the cluster down cleanly (fast mode: sessions are ended, not awaited). A
// cluster that is not running is left as it is.
func (s *Server) Stop(ctx context.Context) {
	_, _ = s.run(ctx, "pg_ctl", "-D", s.data, "-m", "fast", "-w", "-t", "30", "stop")
}

// PIDs lists the postmaster and its children: freezing the cluster must freeze the
// backends that hold connections too, not only the process that accepts new ones.
func (s *Server) PIDs() ([]int, error) {
	f, err := os.Open(filepath.Join(s.data, "postmaster.pid"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return nil, errors.New("empty postmaster.pid")
	}
	master, err := strconv.Atoi(strings.TrimSpace(sc.Text()))
	if err != nil {
		return nil, err
	}
	pids := []int{master}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// Fields after the command name, which is in parentheses and may hold spaces.
		rest := string(stat[bytes.LastIndexByte(stat, ')')+1:])
		fields := strings.Fields(rest)
		if len(fields) > 1 && fields[1] == strconv.Itoa(master) {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// Close stops the cluster and removes its directory: data and log. It has its own
// deadline, as it runs on the way out, often after the caller's context has ended.
func (s *Server) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	s.Stop(ctx)
	_ = os.RemoveAll(s.dir)
}
