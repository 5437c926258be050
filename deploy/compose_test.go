// Package deploy_test checks the container deployment: docker-compose.yml (loaded and
// validated with compose-go, the library `docker compose` itself uses), the Dockerfile,
// .dockerignore and the helper files under deploy/. No Docker engine is needed; the one
// test that runs something (the search-attribute setup script) uses the Temporal dev
// server like the other integration tests.
package deploy_test

import (
	"context"
	"fmt"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	"go.yaml.in/yaml/v3"

	"github.com/headshotpro/retryd/internal/config"
	"github.com/headshotpro/retryd/internal/tooling/topology"
	"github.com/headshotpro/retryd/workflows"
)

// Values the tests give to the required variables; they must come out of the variables,
// so finding them in the loaded project proves nothing is hard-coded.
var testEnv = map[string]string{
	"POSTGRES_PASSWORD": "pg-password-from-env",
	"LINK_SECRET":       "link-secret-from-env-0123456789",
	"PIPELINE_TOKEN":    "pipeline-token-from-env",
}

// requiredVars are the variables docker-compose.yml must refuse to run without.
var requiredVars = []string{"POSTGRES_PASSWORD", "LINK_SECRET", "PIPELINE_TOKEN"}

const (
	composeFile = "docker-compose.yml"
	// setupScript is the search-attribute job's script, relative to the repository root.
	setupScript = "deploy/temporal-setup.sh"
)

// Services by role. The one-shot jobs run to completion before api and worker start.
var (
	longRunning = []string{"postgres", "temporal", "temporal-ui", "api", "worker"}
	oneShot     = []string{"temporal-setup", "migrate"}
	retrydBuilt = []string{"api", "worker", "migrate"}
)

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("repository root not found from the test's directory: %v", err)
	}
	return root
}

func configDetails(t *testing.T, env map[string]string) types.ConfigDetails {
	t.Helper()
	root := repoRoot(t)
	return types.ConfigDetails{
		WorkingDir:  root,
		ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(root, composeFile)}},
		// Only this map: the developer's own environment must not change the outcome.
		Environment: types.Mapping(maps.Clone(env)),
	}
}

func loadProject(t *testing.T, env map[string]string) (*types.Project, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return loader.LoadWithContext(ctx, configDetails(t, env), func(o *loader.Options) {
		o.SetProjectName("retryd-test", true)
	})
}

func mustLoad(t *testing.T) *types.Project {
	t.Helper()
	p, err := loadProject(t, testEnv)
	if err != nil {
		t.Fatalf("load %s: %v", composeFile, err)
	}
	return p
}

func service(t *testing.T, p *types.Project, name string) types.ServiceConfig {
	t.Helper()
	s, ok := p.Services[name]
	if !ok {
		t.Fatalf("service %q missing; services: %v", name, slices.Sorted(maps.Keys(p.Services)))
	}
	return s
}

func env(s types.ServiceConfig, key string) (string, bool) {
	v, ok := s.Environment[key]
	if !ok || v == nil {
		return "", false
	}
	return *v, true
}

func TestComposeServices(t *testing.T) {
	p := mustLoad(t)
	want := slices.Sorted(slices.Values(append(slices.Clone(longRunning), oneShot...)))
	got := slices.Sorted(maps.Keys(p.Services))
	if !slices.Equal(got, want) {
		t.Errorf("services = %v, want %v", got, want)
	}
	for _, name := range oneShot {
		if r := service(t, p, name).Restart; r != types.RestartPolicyNo {
			t.Errorf("%s: restart = %q, want %q (a one-shot job)", name, r, types.RestartPolicyNo)
		}
	}
	for _, name := range longRunning {
		if r := service(t, p, name).Restart; r != types.RestartPolicyUnlessStopped {
			t.Errorf("%s: restart = %q, want %q", name, r, types.RestartPolicyUnlessStopped)
		}
	}
}

func TestComposeThirdPartyImagesPinned(t *testing.T) {
	p := mustLoad(t)
	wantPrefix := map[string]string{
		"postgres":       "postgres:16",
		"temporal":       "temporalio/auto-setup:1.29.",
		"temporal-ui":    "temporalio/ui:2.42.",
		"temporal-setup": "temporalio/auto-setup:1.29.",
	}
	for name, s := range p.Services {
		if s.Build != nil {
			continue
		}
		ref, tag := s.Image, ""
		if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
			tag = ref[i+1:]
		}
		if tag == "" || tag == "latest" || strings.Contains(ref, "${") {
			t.Errorf("%s: image %q is not pinned to a version tag", name, ref)
		}
		if prefix, ok := wantPrefix[name]; !ok {
			t.Errorf("%s: third-party image %q not expected; add it to this test", name, ref)
		} else if !strings.HasPrefix(ref, prefix) {
			t.Errorf("%s: image = %q, want %s*", name, ref, prefix)
		}
	}
	// The setup job uses the server's own image (and CLI), so both move together.
	if a, b := service(t, p, "temporal").Image, service(t, p, "temporal-setup").Image; a != b {
		t.Errorf("temporal-setup image %q differs from temporal's %q", b, a)
	}
}

func TestComposeRetrydBuiltFromDockerfile(t *testing.T) {
	p := mustLoad(t)
	root := repoRoot(t)
	wantCommand := map[string][]string{"api": {"serve"}, "worker": {"work"}, "migrate": {"migrate"}}
	var images []string
	for _, name := range retrydBuilt {
		s := service(t, p, name)
		if s.Build == nil {
			t.Errorf("%s: no build section; it must be built from ./Dockerfile", name)
			continue
		}
		if s.Build.Context != root {
			t.Errorf("%s: build context = %q, want the repository root %q", name, s.Build.Context, root)
		}
		if s.Build.Dockerfile != "Dockerfile" {
			t.Errorf("%s: build dockerfile = %q, want Dockerfile", name, s.Build.Dockerfile)
		}
		if _, err := os.Stat(filepath.Join(s.Build.Context, s.Build.Dockerfile)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if got := []string(s.Command); !slices.Equal(got, wantCommand[name]) {
			t.Errorf("%s: command = %q, want %q", name, got, wantCommand[name])
		}
		if len(s.Entrypoint) != 0 {
			t.Errorf("%s: entrypoint = %q; the image's ENTRYPOINT [/retryd] must stay", name, s.Entrypoint)
		}
		images = append(images, s.Image)
	}
	if len(slices.Compact(images)) != 1 {
		t.Errorf("api, worker and migrate should share one image name, got %q", images)
	}
}

func TestComposeHealthchecks(t *testing.T) {
	p := mustLoad(t)
	for _, name := range longRunning {
		h := service(t, p, name).HealthCheck
		if h == nil || h.Disable || len(h.Test) < 2 || h.Test[0] == "NONE" {
			t.Errorf("%s: no health check (every long-running service needs one: depends_on waits on it)", name)
		}
	}
	wantTest := map[string][]string{
		"api":      {"CMD", "/retryd", "probe", "http://127.0.0.1:8080/healthz"},
		"worker":   {"CMD", "/retryd", "probe", "http://127.0.0.1:9090/healthz"},
		"temporal": {"CMD", "temporal", "operator", "cluster", "health", "--address", "temporal:7233"},
	}
	for name, want := range wantTest {
		if h := service(t, p, name).HealthCheck; h == nil || !slices.Equal([]string(h.Test), want) {
			t.Errorf("%s: health check test = %v, want %q", name, h, want)
		}
	}
	if h := service(t, p, "postgres").HealthCheck; h == nil || !strings.Contains(strings.Join(h.Test, " "), "pg_isready") {
		t.Errorf("postgres: health check should run pg_isready, got %v", h)
	}
	// The probe URLs must point at the addresses the services listen on.
	if v, _ := env(service(t, p, "api"), "HTTP_ADDR"); v != ":8080" {
		t.Errorf("api: HTTP_ADDR = %q, want :8080 (the health check probes port 8080)", v)
	}
	if v, _ := env(service(t, p, "worker"), "WORKER_METRICS_ADDR"); v != "0.0.0.0:9090" {
		t.Errorf("worker: WORKER_METRICS_ADDR = %q, want 0.0.0.0:9090 (the health check probes port 9090, a scraper the container's address)", v)
	}
}

// The metrics listeners default to loopback, which a scraper in another container cannot
// reach: compose sets them to the container's interfaces and exposes them to the compose
// network, never publishing them on the host.
func TestComposeMetricsListeners(t *testing.T) {
	p := mustLoad(t)
	for name, want := range map[string][2]string{"api": {"METRICS_ADDR", "9464"}, "worker": {"WORKER_METRICS_ADDR", "9090"}} {
		s := service(t, p, name)
		if v, _ := env(s, want[0]); v != "0.0.0.0:"+want[1] {
			t.Errorf("%s: %s = %q, want 0.0.0.0:%s", name, want[0], v, want[1])
		}
		if !slices.Contains(s.Expose, want[1]) {
			t.Errorf("%s: expose %q lacks %s", name, s.Expose, want[1])
		}
		for _, port := range s.Ports {
			if strconv.Itoa(int(port.Target)) == want[1] {
				t.Errorf("%s: the metrics port %s is published (%s); it must stay on the compose network", name, want[1], port.Published)
			}
		}
	}
}

func TestComposeDependsOn(t *testing.T) {
	p := mustLoad(t)
	want := map[string]map[string]string{
		"temporal":       {"postgres": types.ServiceConditionHealthy},
		"temporal-ui":    {"temporal": types.ServiceConditionHealthy},
		"temporal-setup": {"temporal": types.ServiceConditionHealthy},
		"migrate":        {"postgres": types.ServiceConditionHealthy},
		"api": {
			"migrate":        types.ServiceConditionCompletedSuccessfully,
			"temporal-setup": types.ServiceConditionCompletedSuccessfully,
			"temporal":       types.ServiceConditionHealthy,
		},
		"worker": {
			"migrate":        types.ServiceConditionCompletedSuccessfully,
			"temporal-setup": types.ServiceConditionCompletedSuccessfully,
			"temporal":       types.ServiceConditionHealthy,
		},
	}
	for name, s := range p.Services {
		got := map[string]string{}
		for dep, d := range s.DependsOn {
			got[dep] = d.Condition
		}
		if w := want[name]; !maps.Equal(got, w) && !(len(got) == 0 && len(w) == 0) {
			t.Errorf("%s: depends_on = %v, want %v", name, got, w)
		}
	}
}

func TestComposeRetrydEnvironment(t *testing.T) {
	p := mustLoad(t)
	known := map[string]bool{}
	for _, v := range config.Vars {
		known[v.Name] = true
	}
	for _, name := range retrydBuilt {
		s := service(t, p, name)
		for key := range s.Environment {
			if !known[key] {
				t.Errorf("%s: environment variable %s is not one retryd reads (internal/config.Vars)", name, key)
			}
		}
		dbURL, ok := env(s, "DATABASE_URL")
		if !ok {
			t.Errorf("%s: DATABASE_URL missing", name)
			continue
		}
		u, err := url.Parse(dbURL)
		if err != nil {
			t.Errorf("%s: DATABASE_URL: %v", name, err)
			continue
		}
		pw, _ := u.User.Password()
		if u.Scheme != "postgres" || u.Hostname() != "postgres" || u.Path != "/retryd" || pw != testEnv["POSTGRES_PASSWORD"] {
			t.Errorf("%s: DATABASE_URL = %s, want postgres://…:$POSTGRES_PASSWORD@postgres:5432/retryd", name, u.Redacted())
		}
	}
	for _, name := range []string{"api", "worker"} {
		s := service(t, p, name)
		for key, want := range map[string]string{
			"TEMPORAL_ADDRESS": "temporal:7233",
			"LINK_SECRET":      testEnv["LINK_SECRET"],
			// The worker must reach the API's local mail endpoint over the network, not
			// at its own loopback (the default).
			"MAILERSEND_LOCAL_URL": "http://api:8080/dev/mailersend",
		} {
			if got, ok := env(s, key); !ok || got != want {
				t.Errorf("%s: %s = %q (set: %v), want %q", name, key, got, ok, want)
			}
		}
		for _, key := range []string{"TEMPORAL_NAMESPACE", "MAILERSEND_API_KEY", "DEV_MAILBOX_TOKEN", "APP_BASE_URL", "RETRY_WINDOW", "RETRY_REMINDERS"} {
			if _, ok := s.Environment[key]; !ok {
				t.Errorf("%s: %s not passed through", name, key)
			}
		}
		// Shutdown: SIGKILL must not come before SHUTDOWN_TIMEOUT (25s by default) is over.
		if g := s.StopGracePeriod; g == nil || time.Duration(*g) <= 25*time.Second {
			t.Errorf("%s: stop_grace_period = %v, want more than the 25s SHUTDOWN_TIMEOUT", name, g)
		}
	}
	if got, _ := env(service(t, p, "api"), "PIPELINE_TOKEN"); got != testEnv["PIPELINE_TOKEN"] {
		t.Errorf("api: PIPELINE_TOKEN = %q, want the value of $PIPELINE_TOKEN", got)
	}
	if _, ok := service(t, p, "worker").Environment["PIPELINE_TOKEN"]; ok {
		t.Errorf("worker: PIPELINE_TOKEN is the API's; the worker should not get it")
	}
	if _, ok := service(t, p, "migrate").Environment["LINK_SECRET"]; ok {
		t.Errorf("migrate: needs only the database; it should not get LINK_SECRET")
	}
	// Empty RETRY_REMINDERS means "no reminders" and must survive interpolation.
	p2, err := loadProject(t, with(testEnv, "RETRY_REMINDERS", ""))
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := env(service(t, p2, "worker"), "RETRY_REMINDERS"); !ok || v != "" {
		t.Errorf("RETRY_REMINDERS set empty became %q (set: %v), want empty", v, ok)
	}
}

func TestComposeTemporal(t *testing.T) {
	p := mustLoad(t)
	root := repoRoot(t)
	s := service(t, p, "temporal")
	for key, want := range map[string]string{
		"DB":             "postgres12",
		"POSTGRES_SEEDS": "postgres",
		"DB_PORT":        "5432",
		"POSTGRES_PWD":   testEnv["POSTGRES_PASSWORD"],
	} {
		if got, _ := env(s, key); got != want {
			t.Errorf("temporal: %s = %q, want %q", key, got, want)
		}
	}
	pgUser, _ := env(service(t, p, "postgres"), "POSTGRES_USER")
	if got, _ := env(s, "POSTGRES_USER"); got == "" || got != pgUser {
		t.Errorf("temporal: POSTGRES_USER = %q, want postgres' %q", got, pgUser)
	}
	dc, _ := env(s, "DYNAMIC_CONFIG_FILE_PATH")
	src := mountSource(s, dc)
	if want := filepath.Join(root, "deploy", "temporal-dynamic-config.yaml"); src != want {
		t.Errorf("temporal: DYNAMIC_CONFIG_FILE_PATH %q is mounted from %q, want %q", dc, src, want)
	}
	checkDynamicConfig(t, filepath.Join(root, "deploy", "temporal-dynamic-config.yaml"))
	if got, _ := env(service(t, p, "temporal-ui"), "TEMPORAL_ADDRESS"); got != "temporal:7233" {
		t.Errorf("temporal-ui: TEMPORAL_ADDRESS = %q, want temporal:7233", got)
	}
	if !publishes(service(t, p, "temporal-ui"), 8233, 8080) {
		t.Errorf("temporal-ui: port 8233 on the host should map to the UI's 8080")
	}
	if !publishes(service(t, p, "api"), 8080, 8080) {
		t.Errorf("api: port 8080 should be published")
	}
}

// TestComposeTemporalSettingsShared: the Temporal server's settings come from
// deploy/temporal.env, the file scripts/temporal-server.sh renders the same server's
// config from in the production-topology tests. Every variable of that file reaches the
// compose service unchanged, except DEFAULT_NAMESPACE, which follows TEMPORAL_NAMESPACE.
func TestComposeTemporalSettingsShared(t *testing.T) {
	p := mustLoad(t)
	root := repoRoot(t)
	settings, err := topology.ReadSettings(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"DB", "NUM_HISTORY_SHARDS", "DEFAULT_NAMESPACE_RETENTION", "DBNAME", "VISIBILITY_DBNAME", "SQL_MAX_CONNS", "SQL_VIS_MAX_CONNS"} {
		if settings[k] == "" {
			t.Errorf("deploy/temporal.env does not set %s", k)
		}
	}
	s := service(t, p, "temporal")
	for k, want := range settings {
		if k == "DEFAULT_NAMESPACE" {
			continue
		}
		if got, _ := env(s, k); got != want {
			t.Errorf("temporal: %s = %q, deploy/temporal.env says %q", k, got, want)
		}
	}
	if got, _ := env(s, "DEFAULT_NAMESPACE"); got != "default" {
		t.Errorf("temporal: DEFAULT_NAMESPACE = %q, want TEMPORAL_NAMESPACE's default %q", got, "default")
	}
	if got, _ := env(service(t, p, "temporal-setup"), "DEFAULT_NAMESPACE_RETENTION"); got != settings["DEFAULT_NAMESPACE_RETENTION"] {
		t.Errorf("temporal-setup: DEFAULT_NAMESPACE_RETENTION = %q, want the server's %q", got, settings["DEFAULT_NAMESPACE_RETENTION"])
	}
	// The script must read this same file; a copy of the settings elsewhere would drift.
	script, err := os.ReadFile(filepath.Join(root, "scripts", "temporal-server.sh"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(script), `"$repo/deploy/temporal.env"`) || !strings.Contains(string(script), "deploy/temporal-dynamic-config.yaml") {
		t.Errorf("scripts/temporal-server.sh does not read deploy/temporal.env and deploy/temporal-dynamic-config.yaml")
	}
	// And build the server version the compose image runs.
	image := s.Image
	tag := image[strings.LastIndex(image, ":")+1:]
	if !strings.Contains(string(script), "version=v"+tag+"\n") {
		t.Errorf("compose runs %s but scripts/temporal-server.sh builds another server version", image)
	}
}

// Secure defaults: nothing is published beyond this host unless RETRYD_BIND says so, and
// the local mailbox (every member's live link) is off unless DEV_MAILBOX asks for it.
func TestComposeSecureDefaults(t *testing.T) {
	p := mustLoad(t)
	for name, s := range p.Services {
		for _, port := range s.Ports {
			if port.HostIP != "127.0.0.1" {
				t.Errorf("%s: port %s:%d is published on %q, want 127.0.0.1 by default", name, port.Published, port.Target, port.HostIP)
			}
		}
	}
	for _, name := range []string{"api", "worker"} {
		if got, _ := env(service(t, p, name), "DEV_MAILBOX"); got != "off" {
			t.Errorf("%s: DEV_MAILBOX = %q by default, want off", name, got)
		}
	}

	wide := maps.Clone(testEnv)
	wide["RETRYD_BIND"] = "0.0.0.0"
	wide["DEV_MAILBOX"] = "on"
	p, err := loadProject(t, wide)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"api", "temporal-ui"} {
		for _, port := range service(t, p, name).Ports {
			if port.HostIP != "0.0.0.0" {
				t.Errorf("%s with RETRYD_BIND=0.0.0.0: host ip %q", name, port.HostIP)
			}
		}
	}
	// Temporal's gRPC port stays on loopback whatever RETRYD_BIND says: it has no
	// authentication in this stack, and no browser needs it.
	for _, port := range service(t, p, "temporal").Ports {
		if port.HostIP != "127.0.0.1" {
			t.Errorf("temporal with RETRYD_BIND=0.0.0.0: host ip %q, want 127.0.0.1", port.HostIP)
		}
	}
	if got, _ := env(service(t, p, "api"), "DEV_MAILBOX"); got != "on" {
		t.Errorf("api: DEV_MAILBOX = %q with DEV_MAILBOX=on", got)
	}
}

// checkDynamicConfig parses the dynamic config file the way the server reads it: a map
// from setting name to a list of {value, constraints}.
func checkDynamicConfig(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var settings map[string][]struct {
		Value       any            `yaml:"value"`
		Constraints map[string]any `yaml:"constraints"`
	}
	if err := yaml.Unmarshal(data, &settings); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	for _, key := range []string{"frontend.enableExecuteMultiOperation", "frontend.enableUpdateWorkflowExecution"} {
		if v := settings[key]; len(v) != 1 || v[0].Value != true {
			t.Errorf("%s: %s = %+v, want a single value true (Update-with-Start needs it)", path, key, v)
		}
	}
	for key, values := range settings {
		if len(values) == 0 {
			t.Errorf("%s: %s has no values", path, key)
		}
	}
	// The email and webhook queues of the default task queue are fair: their tasks take
	// turns by organization (the workflows set each one's fairness key).
	for _, queue := range []string{workflows.EmailTaskQueue(workflows.TaskQueue), workflows.WebhookTaskQueue(workflows.TaskQueue)} {
		fair := false
		for _, v := range settings["matching.enableFairness"] {
			fair = fair || (v.Value == true && len(v.Constraints) == 1 && v.Constraints["taskQueueName"] == queue)
		}
		if !fair {
			t.Errorf("%s: matching.enableFairness = %+v, want true for taskQueueName %s", path, settings["matching.enableFairness"], queue)
		}
	}
}

func mountSource(s types.ServiceConfig, target string) string {
	for _, v := range s.Volumes {
		if v.Target == target {
			return v.Source
		}
	}
	return ""
}

func publishes(s types.ServiceConfig, host, container uint32) bool {
	for _, p := range s.Ports {
		if p.Target == container && p.Published == fmt.Sprint(host) {
			return true
		}
	}
	return false
}

func TestComposePostgres(t *testing.T) {
	p := mustLoad(t)
	root := repoRoot(t)
	s := service(t, p, "postgres")
	if got, _ := env(s, "POSTGRES_PASSWORD"); got != testEnv["POSTGRES_PASSWORD"] {
		t.Errorf("postgres: POSTGRES_PASSWORD = %q, want the value of $POSTGRES_PASSWORD", got)
	}
	var data, initScript bool
	for _, v := range s.Volumes {
		switch {
		case v.Type == types.VolumeTypeVolume && v.Target == "/var/lib/postgresql/data":
			data = p.Volumes[v.Source].Name != ""
		case strings.HasPrefix(v.Target, "/docker-entrypoint-initdb.d/"):
			initScript = true
			if rel, err := filepath.Rel(root, v.Source); err != nil || !strings.HasPrefix(rel, "deploy"+string(filepath.Separator)) {
				t.Errorf("postgres: init script %s should come from deploy/", v.Source)
			}
			b, err := os.ReadFile(v.Source)
			if err != nil {
				t.Fatal(err)
			}
			for _, db := range []string{"retryd", "temporal", "temporal_visibility"} {
				if !strings.Contains(string(b), "'"+db+"'") {
					t.Errorf("postgres: init script %s does not create database %s", v.Source, db)
				}
			}
			if !v.ReadOnly {
				t.Errorf("postgres: mount the init script read-only")
			}
		}
	}
	if !data {
		t.Errorf("postgres: /var/lib/postgresql/data should be a named volume")
	}
	if !initScript {
		t.Errorf("postgres: no init script mounted in /docker-entrypoint-initdb.d")
	}
	// The databases the services use are the ones the init script creates.
	if got, _ := env(service(t, p, "temporal"), "DBNAME"); got != "temporal" {
		t.Errorf("temporal: DBNAME = %q, want temporal", got)
	}
	if got, _ := env(service(t, p, "temporal"), "VISIBILITY_DBNAME"); got != "temporal_visibility" {
		t.Errorf("temporal: VISIBILITY_DBNAME = %q, want temporal_visibility", got)
	}
}

func TestComposeRequiresSecrets(t *testing.T) {
	if _, err := loadProject(t, nil); err == nil {
		t.Fatal("loading without any variable succeeded; the secrets must be required")
	}
	for _, name := range requiredVars {
		_, err := loadProject(t, without(testEnv, name))
		if err == nil {
			t.Errorf("loading without %s succeeded; it must be required (${%s:?…})", name, name)
		} else if !strings.Contains(err.Error(), name) {
			t.Errorf("loading without %s: error %q does not name the variable", name, err)
		}
		// Empty counts as missing too.
		if _, err := loadProject(t, with(testEnv, name, "")); err == nil {
			t.Errorf("loading with %s empty succeeded; use ${%s:?…} (with the colon)", name, name)
		}
	}
}

// secretKeys are environment entries that must only ever come from variables.
var secretKeys = []string{"POSTGRES_PASSWORD", "POSTGRES_PWD", "LINK_SECRET", "PIPELINE_TOKEN", "MAILERSEND_API_KEY"}

var varRef = regexp.MustCompile(`^\$\{[A-Z_][A-Z0-9_]*(:?[-?][^}]*)?\}$`)

// TestComposeNoLiteralSecrets reads the file without interpolation: every secret is a
// ${VAR…} reference, with no default value (a default would be a secret in the file).
func TestComposeNoLiteralSecrets(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	model, err := loader.LoadModelWithContext(ctx, configDetails(t, testEnv), func(o *loader.Options) {
		o.SkipInterpolation = true
		o.SkipConsistencyCheck = true
		o.SetProjectName("retryd-test", true)
	})
	if err != nil {
		t.Fatal(err)
	}
	services, _ := model["services"].(map[string]any)
	if len(services) == 0 {
		t.Fatal("no services in the raw model")
	}
	checked := 0
	for name, raw := range services {
		svc, _ := raw.(map[string]any)
		for key, value := range environmentOf(svc) {
			if !slices.Contains(secretKeys, key) {
				if strings.Contains(value, testEnv["LINK_SECRET"]) || strings.Contains(value, testEnv["PIPELINE_TOKEN"]) {
					t.Errorf("%s: %s holds a secret value", name, key)
				}
				continue
			}
			checked++
			m := varRef.FindStringSubmatch(value)
			switch {
			case m == nil:
				t.Errorf("%s: %s = %q is not a ${VAR} reference", name, key, value)
			case strings.HasPrefix(m[1], ":-") && len(m[1]) > 2, strings.HasPrefix(m[1], "-") && len(m[1]) > 1:
				t.Errorf("%s: %s = %q has a default value; a secret must not", name, key, value)
			}
		}
		// DATABASE_URL embeds the password: it must be the variable too.
		if v, ok := environmentOf(svc)["DATABASE_URL"]; ok {
			checked++
			if !strings.Contains(v, ":${POSTGRES_PASSWORD:?") {
				t.Errorf("%s: DATABASE_URL = %q should take its password from ${POSTGRES_PASSWORD:?…}", name, v)
			}
		}
	}
	if checked < 8 {
		t.Errorf("only %d secret entries checked; the raw model's shape may have changed", checked)
	}
}

// environmentOf returns a raw service's environment as a map, whichever YAML form it has.
func environmentOf(svc map[string]any) map[string]string {
	out := map[string]string{}
	switch e := svc["environment"].(type) {
	case map[string]any:
		for k, v := range e {
			if v != nil {
				out[k] = fmt.Sprint(v)
			}
		}
	case []any:
		for _, item := range e {
			k, v, _ := strings.Cut(fmt.Sprint(item), "=")
			out[k] = v
		}
	}
	return out
}

func TestComposeSearchAttributeSetup(t *testing.T) {
	p := mustLoad(t)
	root := repoRoot(t)
	s := service(t, p, "temporal-setup")

	var want []string
	for _, name := range workflows.SearchAttributeNames {
		want = append(want, name+"=Keyword")
	}
	if got := []string(s.Command); !sameSet(got, want) {
		t.Errorf("temporal-setup: command = %q, want the Keyword attributes %q", got, want)
	}
	for _, name := range []string{"OrgId", "MemberId", "ShootId", "RetryStage"} {
		if !slices.Contains([]string(s.Command), name+"=Keyword") {
			t.Errorf("temporal-setup: command does not register %s as Keyword", name)
		}
	}
	if len(s.Entrypoint) != 2 || s.Entrypoint[0] != "/bin/bash" {
		t.Fatalf("temporal-setup: entrypoint = %q, want [/bin/bash SCRIPT]", s.Entrypoint)
	}
	if src, want := mountSource(s, s.Entrypoint[1]), filepath.Join(root, setupScript); src != want {
		t.Errorf("temporal-setup: script %s is mounted from %q, want %q", s.Entrypoint[1], src, want)
	}
	if got, _ := env(s, "TEMPORAL_ADDRESS"); got != "temporal:7233" {
		t.Errorf("temporal-setup: TEMPORAL_ADDRESS = %q, want temporal:7233", got)
	}
	api := service(t, p, "api")
	if a, b := s.Environment["TEMPORAL_NAMESPACE"], api.Environment["TEMPORAL_NAMESPACE"]; a == nil || b == nil || *a != *b {
		t.Errorf("temporal-setup and api must use the same TEMPORAL_NAMESPACE")
	}
	b, err := os.ReadFile(filepath.Join(root, setupScript))
	if err != nil {
		t.Fatal(err)
	}
	for _, frag := range []string{"search-attribute create", "already exists"} {
		if !strings.Contains(string(b), frag) {
			t.Errorf("%s does not contain %q", setupScript, frag)
		}
	}
}

func sameSet(a, b []string) bool {
	return slices.Equal(slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b)))
}

func with(m map[string]string, k, v string) map[string]string {
	c := maps.Clone(m)
	c[k] = v
	return c
}

func without(m map[string]string, k string) map[string]string {
	c := maps.Clone(m)
	delete(c, k)
	return c
}
