package assert_test

import (
	"testing"

	"github.com/headshotpro/retryd/internal/tooling/assert"
)

// recorder stands in for a test, so a failing assertion can be observed instead of failing.
type recorder struct {
	testing.TB
	errors, fatals []string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) { r.errors = append(r.errors, format) }

func (r *recorder) Fatalf(format string, args ...any) { r.fatals = append(r.fatals, format) }

func TestEqual(t *testing.T) {
	r := &recorder{TB: t}
	assert.Equal(r, "same", []string{"a"}, []string{"a"})
	assert.MustEqual(r, "same", 3, 3)
	if len(r.errors)+len(r.fatals) != 0 {
		t.Fatalf("equal values reported: %v %v", r.errors, r.fatals)
	}
	assert.Equal(r, "nil and empty differ", []string(nil), []string{})
	assert.MustEqual(r, "numbers", 3, 4)
	if len(r.errors) != 1 || len(r.fatals) != 1 {
		t.Fatalf("errors %v, fatals %v; want one of each", r.errors, r.fatals)
	}
}
