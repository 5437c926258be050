package bench

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// The markers around the section of docs/benchmarks.md that a run writes; everything
// outside them is left as it is.
const (
	MarkerBegin = "<!-- retryd-bench:begin (written by scripts/bench.sh; edits inside are replaced) -->"
	MarkerEnd   = "<!-- retryd-bench:end -->"
)

// sectionHeading introduces the section when a document has no markers yet.
const sectionHeading = "## One run: every path against its floor"

// WriteSection puts body between the markers of the file at path, replacing what was
// there, or appends a new section with the markers when the file has none.
func WriteSection(path, body string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	doc, err := replaceSection(string(raw), body)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return os.WriteFile(path, []byte(doc), 0o644)
}

func replaceSection(doc, body string) (string, error) {
	block := MarkerBegin + "\n\n" + strings.TrimSpace(body) + "\n\n" + MarkerEnd
	begin, end := strings.Index(doc, MarkerBegin), strings.Index(doc, MarkerEnd)
	switch {
	case begin < 0 && end < 0:
		return strings.TrimRight(doc, "\n") + "\n\n" + sectionHeading + "\n\n" + block + "\n", nil
	case begin < 0 || end < begin:
		return "", errors.New("the benchmark section's markers are broken (one missing, or in the wrong order)")
	case strings.Count(doc, MarkerBegin) > 1 || strings.Count(doc, MarkerEnd) > 1:
		return "", errors.New("the benchmark section's markers appear more than once")
	}
	return doc[:begin] + block + doc[end+len(MarkerEnd):], nil
}
