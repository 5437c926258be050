// Package assert holds the equality assertions the tests share, in the plain style of the
// standard testing package the other tests use: Equal reports a difference and lets the
// test go on, MustEqual stops it. Each names what it compares, so a failure reads as a
// sentence ("allowance = …, want …") rather than as two values.
package assert

import (
	"reflect"
	"testing"
)

// Equal reports what differs from want; the test goes on.
func Equal[T any](t testing.TB, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %#v, want %#v", what, got, want)
	}
}

// MustEqual stops the test when got is not want.
func MustEqual[T any](t testing.TB, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s = %#v, want %#v", what, got, want)
	}
}
