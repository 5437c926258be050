package faults

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
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// privatePostgres is a Postgres cluster of the suite's own (initdb into a temp dir,
// pg_ctl on a free port), because restarting or pausing the machine's shared cluster
// would break every other test running beside the suite.
type privatePostgres struct {
	bin  string // directory of initdb and pg_ctl
	dir  string // owned by the cluster's user
	data string
	port int
	asPG bool // root cannot run Postgres: commands go through runuser -u postgres
}

// findPostgresBin picks the newest /usr/lib/postgresql/*/bin with initdb and pg_ctl.
func findPostgresBin() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
	for _, d := range dirs {
		if isExec(filepath.Join(d, "initdb")) && isExec(filepath.Join(d, "pg_ctl")) {
			return d, nil
		}
	}
	return "", errors.New("no /usr/lib/postgresql/*/bin with initdb and pg_ctl (install the postgresql package)")
}

func versionOf(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

func isExec(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

func newPrivatePostgres(ctx context.Context, port int) (*privatePostgres, error) {
	bin, err := findPostgresBin()
	if err != nil {
		return nil, err
	}
	// Not t.TempDir: its parents are private to root, and the cluster runs as postgres.
	dir, err := os.MkdirTemp("", "retryd-faults-pg-")
	if err != nil {
		return nil, err
	}
	pg := &privatePostgres{bin: bin, dir: dir, data: filepath.Join(dir, "data"), port: port, asPG: os.Geteuid() == 0}
	if pg.asPG {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root needs a postgres user: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, err
		}
	}
	if out, err := pg.run(ctx, "initdb", "-D", pg.data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"); err != nil {
		return nil, fmt.Errorf("initdb: %w\n%s", err, out)
	}
	return pg, nil
}

func (pg *privatePostgres) run(ctx context.Context, tool string, args ...string) ([]byte, error) {
	path := filepath.Join(pg.bin, tool)
	var cmd *exec.Cmd
	if pg.asPG {
		cmd = exec.CommandContext(ctx, "runuser", append([]string{"-u", "postgres", "--", path}, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, path, args...)
	}
	cmd.Dir = pg.dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.Bytes(), err
}

// URL is the connection URL of database name.
func (pg *privatePostgres) URL(name string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", pg.port, name)
}

func (pg *privatePostgres) start(ctx context.Context) error {
	// fsync off: the suite crashes processes, not the machine, and it shares the disk.
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200", pg.port, pg.dir)
	out, err := pg.run(ctx, "pg_ctl", "-D", pg.data, "-l", filepath.Join(pg.dir, "postgres.log"), "-o", opts, "-w", "-t", "60", "start")
	if err != nil {
		return fmt.Errorf("pg_ctl start: %w\n%s", err, out)
	}
	return nil
}

// crash stops the cluster the way a power cut would (immediate mode: no checkpoint,
// connections dropped), so the next start runs crash recovery.
func (pg *privatePostgres) crash(ctx context.Context) error {
	out, err := pg.run(ctx, "pg_ctl", "-D", pg.data, "-m", "immediate", "-w", "stop")
	if err != nil {
		return fmt.Errorf("pg_ctl stop: %w\n%s", err, out)
	}
	return nil
}

func (pg *privatePostgres) stop(ctx context.Context) {
	_, _ = pg.run(ctx, "pg_ctl", "-D", pg.data, "-m", "fast", "-w", "-t", "30", "stop")
}

// pids lists the postmaster and its children: a pause must freeze the backends that
// hold connections too, not only the process that accepts new ones.
func (pg *privatePostgres) pids() ([]int, error) {
	f, err := os.Open(filepath.Join(pg.data, "postmaster.pid"))
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

// pause freezes the whole cluster (SIGSTOP) until resume: connections stay open and
// every query hangs, which is worse for clients than a refused connection.
func (pg *privatePostgres) pause() ([]int, error) {
	pids, err := pg.pids()
	if err != nil {
		return nil, err
	}
	for _, pid := range pids {
		_ = syscall.Kill(pid, syscall.SIGSTOP)
	}
	return pids, nil
}

func resume(pids []int) {
	for _, pid := range pids {
		_ = syscall.Kill(pid, syscall.SIGCONT)
	}
}

func (pg *privatePostgres) cleanup() {
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	if pids, err := pg.pids(); err == nil {
		resume(pids)
	}
	pg.stop(ctx)
	_ = os.RemoveAll(pg.dir)
}
