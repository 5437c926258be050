// Package docs holds no code: its tests keep README.md and the documents in this
// directory true to the code they describe, so a new package, variable or renamed
// heading shows up as a failing test instead of as drift a reader finds later.
package docs

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/headshotpro/retryd/internal/config"
)

// root is the repository root, seen from this package's directory.
const root = ".."

func read(t *testing.T, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// markdownFiles are README.md and every document in docs/.
func markdownFiles(t *testing.T) []string {
	t.Helper()
	files := []string{"README.md"}
	docs, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range docs {
		rel, _ := filepath.Rel(root, d)
		files = append(files, filepath.ToSlash(rel))
	}
	return files
}

// section returns the part of a markdown document under the "## title" heading.
func section(t *testing.T, doc, title string) string {
	t.Helper()
	_, rest, ok := strings.Cut(doc, "\n## "+title+"\n")
	if !ok {
		t.Fatalf("no section %q", title)
	}
	if i := strings.Index(rest, "\n## "); i >= 0 {
		rest = rest[:i]
	}
	return rest
}

// packageDirs are the directories holding Go files, relative to the repository root.
func packageDirs(t *testing.T) map[string]bool {
	t.Helper()
	dirs := map[string]bool{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() && path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "node_modules") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(name, ".go") {
			rel, _ := filepath.Rel(root, filepath.Dir(path))
			dirs[filepath.ToSlash(rel)] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) < 10 {
		t.Fatalf("found only %d package directories from %s: %v", len(dirs), root, dirs)
	}
	return dirs
}

// TestREADMEListsEveryPackage: every directory holding Go files is named in the README's
// package list.
func TestREADMEListsEveryPackage(t *testing.T) {
	list := section(t, read(t, "README.md"), "Architecture")
	for dir := range packageDirs(t) {
		if !strings.Contains(list, "`"+dir+"`") && !strings.Contains(list, "`"+dir+"/`") {
			t.Errorf("README.md's package list does not name %s", dir)
		}
	}
}

// TestArchitectureListsEveryPackage: docs/architecture.md's package list names every
// directory holding Go files too.
func TestArchitectureListsEveryPackage(t *testing.T) {
	list := section(t, read(t, "docs/architecture.md"), "Packages")
	for dir := range packageDirs(t) {
		if !strings.Contains(list, "`"+dir+"`") {
			t.Errorf("docs/architecture.md's package list does not name %s", dir)
		}
	}
}

var (
	filesCount = regexp.MustCompile(`runs through (\d+) files`)
	listItem   = regexp.MustCompile(`(?m)^\d+\. `)
)

// TestArchitectureCountsItsFiles: the number of files a give-retry runs through, as the
// page states it, is the length of the list that follows.
func TestArchitectureCountsItsFiles(t *testing.T) {
	text := section(t, read(t, "docs/architecture.md"), "The files of one give-retry")
	m := filesCount.FindStringSubmatch(text)
	if m == nil {
		t.Fatal(`docs/architecture.md does not say how many files a give-retry "runs through"`)
	}
	if n := len(listItem.FindAllString(text, -1)); strconv.Itoa(n) != m[1] {
		t.Errorf("docs/architecture.md says a give-retry runs through %s files and lists %d", m[1], n)
	}
}

var goPath = regexp.MustCompile("`([a-z0-9_.-]+(?:/[a-zA-Z0-9_.-]+)+\\.go)`")

// TestDocumentsNameFilesThatExist: a Go file named by its path in the README or a
// document exists, so a moved or renamed file cannot leave its old name behind.
func TestDocumentsNameFilesThatExist(t *testing.T) {
	for _, file := range markdownFiles(t) {
		for _, m := range goPath.FindAllStringSubmatch(read(t, file), -1) {
			if _, err := os.Stat(filepath.Join(root, m[1])); err != nil {
				t.Errorf("%s names %s, which does not exist", file, m[1])
			}
		}
	}
}

var backticked = regexp.MustCompile("`([A-Z][A-Z0-9_]*\\*?)`")

// tableVars returns the variable names in the first column of a markdown table, with the
// rest of their rows.
func tableVars(text string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(text, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 4 || !strings.HasPrefix(strings.TrimSpace(line), "|") {
			continue
		}
		for _, m := range backticked.FindAllStringSubmatch(cells[1], -1) {
			out[m[1]] = strings.Join(cells[2:], "|")
		}
	}
	return out
}

// TestREADMEConfigurationMatchesConfig: the README's table and internal/config's list
// (which `retryd --help` prints) name the same variables.
func TestREADMEConfigurationMatchesConfig(t *testing.T) {
	table := tableVars(section(t, read(t, "README.md"), "Configuration"))
	var help strings.Builder
	for _, v := range config.Vars {
		help.WriteString(v.Name + " " + v.Meaning + "\n")
		if _, ok := table[v.Name]; !ok {
			t.Errorf("README.md's configuration table lacks %s", v.Name)
		}
	}
	for name := range table {
		// Names the SDK reads (TEMPORAL_TLS_*, TEMPORAL_PROFILE) appear in a meaning.
		if !strings.Contains(help.String(), name) {
			t.Errorf("README.md lists %s, which internal/config.Vars does not mention", name)
		}
	}
}

// TestProductFixedVariables: the fixed variables of docs/product.md are read by retryd,
// with the defaults the document promises.
func TestProductFixedVariables(t *testing.T) {
	table := tableVars(section(t, read(t, "docs/product.md"), "8. Fixed interfaces"))
	if len(table) < 10 {
		t.Fatalf("found %d fixed variables in docs/product.md", len(table))
	}
	vars := map[string]config.Var{}
	for _, v := range config.Vars {
		vars[v.Name] = v
	}
	for name, row := range table {
		v, ok := vars[name]
		if !ok {
			t.Errorf("docs/product.md fixes %s, which retryd does not read", name)
			continue
		}
		// A default written as code is a literal value and must be the real one.
		cells := strings.Split(row, "|")
		def := strings.TrimSpace(cells[len(cells)-2])
		if strings.HasPrefix(def, "`") && strings.Trim(def, "`") != v.Default {
			t.Errorf("docs/product.md gives %s the default %s; internal/config has %q", name, def, v.Default)
		}
	}
}

var mdLink = regexp.MustCompile(`\]\(([^)\s]+)\)`)

// slug is the anchor GitHub gives a heading.
func slug(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(heading)) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9'):
			b.WriteRune(r)
		}
	}
	return b.String()
}

func anchors(doc string) map[string]bool {
	out := map[string]bool{}
	for _, line := range strings.Split(doc, "\n") {
		if strings.HasPrefix(line, "#") {
			out[slug(strings.TrimLeft(line, "#"))] = true
		}
	}
	return out
}

// TestDocumentLinksStayInside: every relative link of the README and the documents
// points at a file of this repository, and at a heading that exists; the documents
// never send a reader outside the repository for the contract.
func TestDocumentLinksStayInside(t *testing.T) {
	for _, file := range markdownFiles(t) {
		doc := read(t, file)
		// Names of documents that live outside the repository, spelled in pieces so
		// that this file passes the same search of the repository.
		for _, word := range []string{"../" + "shared", "SP" + "EC", "NO" + "TES.md"} {
			if strings.Contains(doc, word) {
				t.Errorf("%s mentions %q, which is not part of this repository", file, word)
			}
		}
		for _, m := range mdLink.FindAllStringSubmatch(doc, -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			path, anchor, _ := strings.Cut(target, "#")
			resolved := file
			if path != "" {
				resolved = filepath.ToSlash(filepath.Join(filepath.Dir(file), path))
				if strings.HasPrefix(resolved, "..") {
					t.Errorf("%s links outside the repository: %s", file, target)
					continue
				}
				if _, err := os.Stat(filepath.Join(root, resolved)); err != nil {
					t.Errorf("%s links to %s, which does not exist", file, target)
					continue
				}
			}
			if anchor != "" && strings.HasSuffix(resolved, ".md") && !anchors(read(t, resolved))[anchor] {
				t.Errorf("%s links to %s, but %s has no heading #%s", file, target, resolved, anchor)
			}
		}
	}
}
