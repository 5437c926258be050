package check_test

import (
	"testing"

	"github.com/headshotpro/retryd/internal/tooling/check"
)

// recorder stands in for a test, so a failing check can be observed instead of failing.
type recorder struct {
	testing.TB
	errors, fatals []string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) { r.errors = append(r.errors, format) }

func (r *recorder) Fatalf(format string, args ...any) { r.fatals = append(r.fatals, format) }

func TestEqual(t *testing.T) {
	r := &recorder{TB: t}
	check.Equal(r, "same", []string{"a"}, []string{"a"})
	check.MustEqual(r, "same", 3, 3)
	if len(r.errors)+len(r.fatals) != 0 {
		t.Fatalf("equal values reported: %v %v", r.errors, r.fatals)
	}
	check.Equal(r, "nil and empty differ", []string(nil), []string{})
	check.MustEqual(r, "numbers", 3, 4)
	if len(r.errors) != 1 || len(r.fatals) != 1 {
		t.Fatalf("errors %v, fatals %v; want one of each", r.errors, r.fatals)
	}
}
