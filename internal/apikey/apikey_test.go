package apikey

import (
	"bytes"
	"strings"
	"testing"
)

func TestGenerate(t *testing.T) {
	a, pa, ha := Generate()
	b, _, hb := Generate()
	if a == b || bytes.Equal(ha, hb) {
		t.Fatal("two keys are equal")
	}
	if !strings.HasPrefix(a, Prefix) || len(a) != GeneratedLen || len(b) != GeneratedLen || !bytes.Equal(ha, Hash(a)) {
		t.Fatalf("key %q hash mismatch or too short", a)
	}
	if !strings.HasPrefix(a, strings.TrimSuffix(pa, "…")) || strings.Contains(pa, a[len(a)-10:]) {
		t.Fatalf("display %q reveals too much of %q", pa, a)
	}
}

func TestFromAuthorization(t *testing.T) {
	for in, want := range map[string]string{"Bearer abc": "abc", "bearer  abc ": "abc", "Basic abc": "", "Bearer ": "", "": ""} {
		got, ok := FromAuthorization(in)
		if got != want || ok != (want != "") {
			t.Errorf("FromAuthorization(%q) = %q, %v", in, got, ok)
		}
	}
}
