package server

import "testing"

// TestSpreadsheetSafe: a cell a spreadsheet would run as a formula is kept as text, and
// every other cell is kept as it is.
func TestSpreadsheetSafe(t *testing.T) {
	for in, want := range map[string]string{
		"=1+1":            "'=1+1",
		"+1":              "'+1",
		"-1":              "'-1",
		"@SUM(A1)":        "'@SUM(A1)",
		"\tx":             "'\tx",
		"\rx":             "'\rx",
		"":                "",
		"Lee":             "Lee",
		"a=b":             "a=b",
		"'=already":       "'=already",
		"2026-12-01T10Z":  "2026-12-01T10Z",
		`"quoted", comma`: `"quoted", comma`,
	} {
		if got := spreadsheetSafe(in); got != want {
			t.Errorf("spreadsheetSafe(%q) = %q, want %q", in, got, want)
		}
	}
}
