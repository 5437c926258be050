package devserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
)

const (
	// startTimeout bounds the wait for readiness; the server is usually ready in about a
	// second, so reaching it means something is wrong, not slow.
	startTimeout = 60 * time.Second
	// stopTimeout is how long SIGTERM gets before SIGKILL; a graceful stop lets SQLite
	// close the DB file cleanly.
	stopTimeout = 10 * time.Second
	// portAttempts: a port picked free can be taken before the server binds it (parallel
	// test binaries each start a server), so a start on picked ports is retried.
	portAttempts = 3
)

// devDynamicConfig tunes the dev server for one machine and a handful of callers; each
// value was measured (docs/benchmarks.md, "The dev server's floor"):
//   - the history service polls its transfer queue at most 20 times a second per shard
//     by default, and the dev server has one shard, so every workflow start or update
//     waited up to 50 ms for the next poll: Update-with-Start's p50 was 50 ms even when
//     the update answered at once;
//   - with the default four task-queue partitions and two pollers, a task could sit in a
//     partition no poller was on, which showed as multi-second p99 stalls under load.
//
// It also turns on what the email queue's order relies on, as production does: fairness
// (each organization's emails, keyed by the activity's fairness key, take turns, so one
// organization's backlog does not hold back another's; it implies the priority matcher)
// and the five priority levels the workflows' PriorityKey values assume. The flag cannot
// be scoped to one queue, so on the dev server every queue is fair; each queue keeps its
// tasks in the fairness table from its first start with it (docs/operations.md).
//
// Production clusters keep their own settings (deploy/temporal-dynamic-config.yaml).
func devDynamicConfig() []string {
	return []string{
		"history.transferProcessorMaxPollRPS=1000",
		"matching.numTaskqueueReadPartitions=1",
		"matching.numTaskqueueWritePartitions=1",
		"matching.enableFairness=true",
		"matching.priorityLevels=5",
	}
}

// devSQLitePragmas set the dev server's SQLite file to write-ahead logging with
// synchronous=NORMAL: a commit appends to the log and syncs only at checkpoints, rather
// than syncing the rollback journal and the database on every commit, which the dev
// server's one connection otherwise waits for. A crash of the dev server loses nothing it
// committed; a crash of the machine may lose the last commits, which a dev server can
// afford (docs/benchmarks.md, "The dev server's floor").
func devSQLitePragmas() []string {
	return []string{"journal_mode=WAL", "synchronous=NORMAL"}
}

// Options configures Start. Zero values pick the defaults in the field comments.
type Options struct {
	CLIPath          string    // the temporal binary, e.g. from Ensure or DefaultCLIPath
	IP               string    // default 127.0.0.1
	Port             int       // frontend gRPC port; 0 picks a free port
	UIPort           int       // 0 picks a free port; ignored when Headless
	Headless         bool      // no Web UI
	Namespace        string    // default "default"; created at launch
	DBFile           string    // "" keeps state in memory; else a SQLite file kept across restarts
	SearchAttributes []string  // registered as Keyword on Namespace
	LogLevel         string    // default "warn"
	Output           io.Writer // receives the server's stdout and stderr; nil discards them
	// DynamicConfig are key=value settings (JSON values) passed after the dev server's
	// own, which they override: the fairness test and benchmark turn fairness off with
	// "matching.enableFairness=false" to measure what it changes.
	DynamicConfig []string
	// Metrics serves the server's own Prometheus metrics on a free port of IP
	// (Server.MetricsURL): the benchmark counts the engine's requests per operation
	// with them.
	Metrics bool
}

// Server is a running dev server started by Start.
type Server struct {
	Address string // host:port of the frontend (gRPC)
	UIURL   string // "" when headless
	// MetricsURL is the server's Prometheus metrics, "" unless Options.Metrics.
	MetricsURL string
	Namespace  string

	cmd      *exec.Cmd
	exited   chan struct{} // closed once cmd.Wait returns
	waitErr  error         // cmd.Wait's result; read only after exited is closed
	tail     *tailBuffer
	stopOnce sync.Once
	stopErr  error
}

// Start runs `temporal server start-dev` as a child process in its own process group and
// returns once a client can connect, the health check passes and Namespace lists every
// search attribute. ctx bounds only the start, not the server's life: call Stop.
// On failure the process is killed and the error carries the tail of its output.
func Start(ctx context.Context, opts Options) (*Server, error) {
	if opts.CLIPath == "" {
		return nil, errors.New("devserver: Options.CLIPath is empty (use Ensure or DefaultCLIPath)")
	}
	if !isExecutable(opts.CLIPath) {
		return nil, fmt.Errorf("devserver: %s is not an executable file (scripts/temporal-cli.sh builds it)", opts.CLIPath)
	}
	if opts.IP == "" {
		opts.IP = "127.0.0.1"
	}
	if opts.Namespace == "" {
		opts.Namespace = "default"
	}
	if opts.LogLevel == "" {
		opts.LogLevel = "warn"
	}
	for _, name := range opts.SearchAttributes {
		if name == "" || strings.ContainsAny(name, "= ") {
			return nil, fmt.Errorf("devserver: invalid search attribute name %q", name)
		}
	}

	picksPorts := opts.Port == 0 || (!opts.Headless && opts.UIPort == 0) || opts.Metrics
	attempts := 1
	if picksPorts {
		attempts = portAttempts
	}
	var err error
	for range attempts {
		var s *Server
		var portClash bool
		s, portClash, err = startOnce(ctx, opts)
		if err == nil {
			return s, nil
		}
		if !portClash || ctx.Err() != nil {
			break
		}
	}
	return nil, err
}

// startOnce reports whether a failure looks like a lost race for a picked port, which a
// new attempt on new ports can fix.
func startOnce(ctx context.Context, opts Options) (*Server, bool, error) {
	port, uiPort := opts.Port, opts.UIPort
	// A fixed port already taken would let the readiness check pass against whatever
	// server holds it, so it is refused up front with a way out.
	for _, p := range []int{port, uiPort} {
		if p != 0 && !(p == uiPort && opts.Headless) {
			if err := portFree(opts.IP, p); err != nil {
				return nil, false, fmt.Errorf("devserver: port %d on %s is in use (another Temporal dev server?); stop it, or set TEMPORAL_ADDRESS to use it: %w", p, opts.IP, err)
			}
		}
	}
	var err error
	if port == 0 {
		if port, err = freePort(opts.IP); err != nil {
			return nil, false, err
		}
	}
	if !opts.Headless && uiPort == 0 {
		if uiPort, err = freePort(opts.IP); err != nil {
			return nil, false, err
		}
	}

	args := []string{"server", "start-dev",
		"--ip", opts.IP,
		"--port", strconv.Itoa(port),
		"--log-level", opts.LogLevel,
		"--color", "never",
	}
	s := &Server{
		Address:   net.JoinHostPort(opts.IP, strconv.Itoa(port)),
		Namespace: opts.Namespace,
		exited:    make(chan struct{}),
		tail:      &tailBuffer{max: 16 << 10},
	}
	if opts.Headless {
		args = append(args, "--headless")
	} else {
		args = append(args, "--ui-port", strconv.Itoa(uiPort))
		s.UIURL = "http://" + net.JoinHostPort(opts.IP, strconv.Itoa(uiPort))
	}
	// "default" is always created; naming it again would only repeat it.
	if opts.Namespace != "default" {
		args = append(args, "--namespace", opts.Namespace)
	}
	if opts.DBFile != "" {
		args = append(args, "--db-filename", opts.DBFile)
		for _, p := range devSQLitePragmas() {
			args = append(args, "--sqlite-pragma", p)
		}
	}
	for _, name := range opts.SearchAttributes {
		args = append(args, "--search-attribute", name+"=Keyword")
	}
	for _, kv := range append(devDynamicConfig(), opts.DynamicConfig...) {
		args = append(args, "--dynamic-config-value", kv)
	}
	if opts.Metrics {
		// Picked on each attempt, like the other ports, so a lost race for it is retried.
		metricsPort, err := freePort(opts.IP)
		if err != nil {
			return nil, false, err
		}
		args = append(args, "--metrics-port", strconv.Itoa(metricsPort))
		s.MetricsURL = "http://" + net.JoinHostPort(opts.IP, strconv.Itoa(metricsPort)) + "/metrics"
	}

	cmd := exec.Command(opts.CLIPath, args...)
	var out io.Writer = s.tail
	if opts.Output != nil {
		out = io.MultiWriter(s.tail, opts.Output)
	}
	cmd.Stdout, cmd.Stderr = out, out
	// Without a bound, Wait would hang on output pipes held open by anything the server
	// left behind in its group.
	cmd.WaitDelay = 5 * time.Second
	setProcAttr(cmd)
	if err := cmd.Start(); err != nil {
		return nil, false, fmt.Errorf("devserver: start %s: %w", opts.CLIPath, err)
	}
	s.cmd = cmd
	go func() {
		s.waitErr = cmd.Wait()
		close(s.exited)
	}()

	readyCtx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	began := time.Now()
	if err := s.waitReady(readyCtx, opts.SearchAttributes); err != nil {
		_ = s.Stop()
		out := s.tail.String()
		clash := strings.Contains(out, "address already in use") && (opts.Port == 0 || (!opts.Headless && opts.UIPort == 0))
		return nil, clash, fmt.Errorf("devserver: %s (args %q) not ready after %s: %w\n  server output (tail):\n%s",
			opts.CLIPath, args, time.Since(began).Round(time.Millisecond), err, out)
	}
	return s, false, nil
}

func (s *Server) waitReady(ctx context.Context, searchAttrs []string) error {
	var c client.Client
	defer func() {
		if c != nil {
			c.Close()
		}
	}()
	added := false
	var last error
	for {
		if c == nil {
			dialCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
			c, last = client.DialContext(dialCtx, client.Options{
				HostPort:  s.Address,
				Namespace: s.Namespace,
				// The SDK's default logger writes to stdout, which would litter test output
				// with every refused connection while the server boots.
				Logger: tlog.NewStructuredLogger(slog.New(slog.DiscardHandler)),
			})
			cancel()
		}
		if c != nil {
			var missing []string
			missing, last = s.check(ctx, c, searchAttrs)
			if last == nil && len(missing) == 0 {
				return nil
			}
			if last == nil {
				last = fmt.Errorf("namespace %q lacks search attributes %v", s.Namespace, missing)
				// --search-attribute registers only on namespaces created at that launch; a
				// DB file from an earlier run keeps its old set, so add what is missing.
				if !added {
					added = true
					if err := s.addSearchAttributes(ctx, c, missing); err != nil {
						last = err
					}
					continue
				}
			}
		}
		select {
		case <-s.exited:
			return fmt.Errorf("server exited early (%v); last check: %v", s.waitErr, last)
		case <-ctx.Done():
			return fmt.Errorf("%w; last check: %v", ctx.Err(), last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// check answers which of names the namespace does not list.
func (s *Server) check(ctx context.Context, c client.Client, names []string) ([]string, error) {
	callCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := c.CheckHealth(callCtx, &client.CheckHealthRequest{}); err != nil {
		return nil, fmt.Errorf("health check: %w", err)
	}
	resp, err := c.OperatorService().ListSearchAttributes(callCtx, &operatorservice.ListSearchAttributesRequest{Namespace: s.Namespace})
	if err != nil {
		return nil, fmt.Errorf("list search attributes of %q: %w", s.Namespace, err)
	}
	var missing []string
	for _, name := range names {
		if _, ok := resp.GetCustomAttributes()[name]; !ok && !slices.Contains(missing, name) {
			missing = append(missing, name)
		}
	}
	return missing, nil
}

func (s *Server) addSearchAttributes(ctx context.Context, c client.Client, names []string) error {
	callCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	attrs := make(map[string]enums.IndexedValueType, len(names))
	for _, name := range names {
		attrs[name] = enums.INDEXED_VALUE_TYPE_KEYWORD
	}
	_, err := c.OperatorService().AddSearchAttributes(callCtx, &operatorservice.AddSearchAttributesRequest{
		Namespace:        s.Namespace,
		SearchAttributes: attrs,
	})
	if err != nil {
		return fmt.Errorf("add search attributes %v to %q: %w", names, s.Namespace, err)
	}
	return nil
}

// PID is the server process's id (its CPU time and memory are read from /proc by the
// benchmark); 0 on a nil *Server.
func (s *Server) PID() int {
	if s == nil || s.cmd == nil || s.cmd.Process == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// Stop sends SIGTERM to the server's process group, waits up to 10s, then sends SIGKILL.
// It is safe to call more than once and on a nil *Server.
func (s *Server) Stop() error {
	if s == nil || s.cmd == nil {
		return nil
	}
	s.stopOnce.Do(func() { s.stopErr = s.stop() })
	return s.stopErr
}

func (s *Server) stop() error {
	select {
	case <-s.exited:
		// Sweep anything the server left in its group.
		_ = killGroup(s.cmd)
		if s.waitErr != nil {
			return fmt.Errorf("devserver: server had already exited: %v\n%s", s.waitErr, s.tail.String())
		}
		return nil
	default:
	}
	if err := terminateGroup(s.cmd); err != nil {
		_ = killGroup(s.cmd)
	}
	select {
	case <-s.exited:
		_ = killGroup(s.cmd)
		return nil
	case <-time.After(stopTimeout):
	}
	_ = killGroup(s.cmd)
	<-s.exited
	return fmt.Errorf("devserver: server ignored SIGTERM for %s and was killed", stopTimeout)
}

func portFree(ip string, port int) error {
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
	if err != nil {
		return err
	}
	return ln.Close()
}

func freePort(ip string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		return 0, fmt.Errorf("devserver: find a free port on %s: %w", ip, err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port, nil
}
