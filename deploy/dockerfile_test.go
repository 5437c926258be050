package deploy_test

import (
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	cmd  string // upper case: FROM, RUN, …
	args string
}

type stage struct {
	base, name string
	body       []instruction
}

// parseDockerfile is enough of a parser for these checks: comments, line continuations,
// ARG defaults before the first FROM (substituted into FROM lines) and stages.
func parseDockerfile(t *testing.T, file string) (stages []stage) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var instrs []instruction
	var cur strings.Builder
	for _, line := range strings.Split(string(b), "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") || (trimmed == "" && cur.Len() == 0) {
			continue
		}
		if strings.HasSuffix(trimmed, `\`) {
			cur.WriteString(strings.TrimSuffix(trimmed, `\`) + " ")
			continue
		}
		cur.WriteString(trimmed)
		cmd, args, _ := strings.Cut(strings.TrimSpace(cur.String()), " ")
		instrs = append(instrs, instruction{strings.ToUpper(cmd), strings.Join(strings.Fields(args), " ")})
		cur.Reset()
	}
	globalArgs := map[string]string{}
	argRef := regexp.MustCompile(`\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?`)
	for _, in := range instrs {
		switch {
		case in.cmd == "ARG" && len(stages) == 0:
			k, v, _ := strings.Cut(in.args, "=")
			globalArgs[k] = v
		case in.cmd == "FROM":
			f := strings.Fields(argRef.ReplaceAllStringFunc(in.args, func(ref string) string {
				if v, ok := globalArgs[argRef.FindStringSubmatch(ref)[1]]; ok {
					return v
				}
				return ref
			}))
			f = slices.DeleteFunc(f, func(s string) bool { return strings.HasPrefix(s, "--platform=") })
			st := stage{base: f[0]}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				st.name = f[2]
			}
			stages = append(stages, st)
		case len(stages) > 0:
			stages[len(stages)-1].body = append(stages[len(stages)-1].body, in)
		}
	}
	return stages
}

func (s stage) find(cmd string) []string {
	var out []string
	for _, in := range s.body {
		if in.cmd == cmd {
			out = append(out, in.args)
		}
	}
	return out
}

func TestDockerfile(t *testing.T) {
	root := repoRoot(t)
	stages := parseDockerfile(t, filepath.Join(root, "Dockerfile"))
	if len(stages) < 2 {
		t.Fatalf("Dockerfile has %d stages, want a builder and a runtime stage", len(stages))
	}
	builder, final := stages[0], stages[len(stages)-1]

	// Builder: the Go toolchain of go.mod's language version, on Debian bookworm.
	goVersion := goModVersion(t, filepath.Join(root, "go.mod"))
	if want := "golang:" + goVersion + "-bookworm"; builder.base != want {
		t.Errorf("builder stage FROM %s, want %s (go.mod says go %s)", builder.base, want, goVersion)
	}
	if builder.name == "" {
		t.Errorf("builder stage has no name (FROM … AS build)")
	}
	var build string
	for _, run := range builder.find("RUN") {
		if strings.Contains(run, "go build") {
			build = run
		}
	}
	for _, frag := range []string{"--mount=type=cache,target=/go/pkg/mod", "--mount=type=cache,target=/root/.cache/go-build", "CGO_ENABLED=0", "go build", "-trimpath", "-ldflags='-s -w'", "-o /out/retryd", "./cmd/retryd"} {
		if !strings.Contains(build, frag) {
			t.Errorf("builder: the go build step %q lacks %q", build, frag)
		}
	}
	if !slices.ContainsFunc(builder.find("RUN"), func(r string) bool { return strings.Contains(r, "go mod download") }) {
		t.Errorf("builder: no `go mod download` layer before the sources are copied")
	}

	// Runtime: static distroless, non-root, the binary as entrypoint.
	if final.base != "gcr.io/distroless/static-debian12:nonroot" {
		t.Errorf("final stage FROM %s, want gcr.io/distroless/static-debian12:nonroot", final.base)
	}
	if copies := final.find("COPY"); !slices.Contains(copies, "--from="+builder.name+" /out/retryd /retryd") {
		t.Errorf("final stage COPY %q, want --from=%s /out/retryd /retryd", copies, builder.name)
	}
	if users := final.find("USER"); len(users) == 0 || !strings.HasPrefix(users[len(users)-1], "nonroot") {
		t.Errorf("final stage USER %q, want nonroot", users)
	}
	for cmd, want := range map[string]string{"ENTRYPOINT": `["/retryd"]`, "CMD": `["serve"]`, "EXPOSE": "8080 9090 9464"} {
		if got := final.find(cmd); len(got) != 1 || got[0] != want {
			t.Errorf("final stage %s %q, want %s", cmd, got, want)
		}
	}
}

func goModVersion(t *testing.T, file string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\d+)\.(\d+)`).FindStringSubmatch(string(b))
	if m == nil {
		t.Fatalf("%s: no go directive", file)
	}
	return m[1] + "." + m[2]
}

// TestDockerignore checks that the build context keeps every file `go build ./cmd/retryd`
// reads (Go sources and embedded files of the module's packages, go.mod, go.sum) and
// drops what must not be sent (VCS data, local binaries, .env files).
func TestDockerignore(t *testing.T) {
	root := repoRoot(t)
	ignore := readDockerignore(t, filepath.Join(root, ".dockerignore"))

	cmd := exec.Command("go", "list", "-deps", "-f", "{{.Dir}}\t{{join .GoFiles \",\"}}\t{{join .EmbedFiles \",\"}}", "./cmd/retryd")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	needed := []string{"go.mod", "go.sum"}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		dir, files, _ := strings.Cut(line, "\t")
		rel, err := filepath.Rel(root, dir)
		if err != nil || strings.HasPrefix(rel, "..") {
			continue // standard library or module cache
		}
		for _, f := range strings.FieldsFunc(strings.ReplaceAll(files, "\t", ","), func(r rune) bool { return r == ',' }) {
			needed = append(needed, filepath.ToSlash(filepath.Join(rel, f)))
		}
	}
	if len(needed) < 10 {
		t.Fatalf("go list found only %v; expected the module's packages", needed)
	}
	for _, f := range needed {
		if ignore.excludes(f) {
			t.Errorf(".dockerignore excludes %s, which the build needs", f)
		}
	}
	for _, f := range []string{".git/HEAD", "retryd", ".env", "bin/retryd", "server/server_test.go", "docker-compose.yml"} {
		if !ignore.excludes(f) {
			t.Errorf(".dockerignore does not exclude %s", f)
		}
	}
}

type dockerignore []struct {
	re     *regexp.Regexp
	negate bool
}

func readDockerignore(t *testing.T, file string) dockerignore {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var d dockerignore
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		negate := strings.HasPrefix(line, "!")
		pattern := path.Clean(strings.TrimPrefix(strings.TrimPrefix(line, "!"), "/"))
		d = append(d, struct {
			re     *regexp.Regexp
			negate bool
		}{globRegexp(pattern), negate})
	}
	return d
}

// globRegexp follows Docker's rules: filepath.Match per segment plus "**" for any number
// of directories; a pattern matching a directory excludes everything below it.
func globRegexp(pattern string) *regexp.Regexp {
	var re strings.Builder
	for i := 0; i < len(pattern); i++ {
		switch c := pattern[i]; {
		case strings.HasPrefix(pattern[i:], "**/"):
			re.WriteString("(?:.*/)?")
			i += 2
		case strings.HasPrefix(pattern[i:], "**"):
			re.WriteString(".*")
			i++
		case c == '*':
			re.WriteString("[^/]*")
		case c == '?':
			re.WriteString("[^/]")
		default:
			re.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	return regexp.MustCompile("^" + re.String() + "(?:/.*)?$")
}

func (d dockerignore) excludes(file string) bool {
	excluded := false
	for _, p := range d {
		if p.re.MatchString(file) {
			excluded = !p.negate
		}
	}
	return excluded
}
