package bench

import (
	"strings"
	"testing"
)

func TestReplaceSection(t *testing.T) {
	doc, err := replaceSection("# Benchmarks\n\nbefore\n", "table one")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc, "# Benchmarks\n\nbefore\n\n"+sectionHeading) || !strings.Contains(doc, "table one") {
		t.Fatalf("appended section:\n%s", doc)
	}
	doc += "\nafter\n"
	again, err := replaceSection(doc, "table two")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(again, "table one") || !strings.Contains(again, "table two") || !strings.HasSuffix(again, "\nafter\n") ||
		strings.Count(again, sectionHeading) != 1 {
		t.Fatalf("replaced section:\n%s", again)
	}
	for _, broken := range []string{MarkerEnd + "\n" + MarkerBegin, MarkerBegin + " no end", MarkerBegin + MarkerEnd + MarkerBegin + MarkerEnd} {
		if _, err := replaceSection(broken, "x"); err == nil {
			t.Errorf("%q: no error", broken)
		}
	}
}
