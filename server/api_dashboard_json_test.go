package server

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// The hand-written dashboard encoder must write exactly what json.Marshal writes, which
// is what the handler sent before it and what the OpenAPI document describes.

// awkward are strings that take every branch of the string escaping.
var awkward = []string{
	"", "Ada Lovelace", `quote " and \ backslash`, "<script>&amp;</script>", "tab\tnew\nline\rret",
	"\b\f\x00\x01\x1f\x7f", "Zoë Ünïcödé 名前 🙂", "line\u2028sep\u2029para", "bad \xff\xfe utf8 \xc3",
	"trunc \xe2\x80", "ascii only with spaces", strings.Repeat("long ", 200),
}

func randomString(r *rand.Rand) string {
	if r.IntN(3) == 0 {
		return awkward[r.IntN(len(awkward))]
	}
	n := r.IntN(30)
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.IntN(256))
	}
	return string(b)
}

func randomTime(r *rand.Rand) *time.Time {
	if r.IntN(3) == 0 {
		return nil
	}
	zones := []*time.Location{time.UTC, time.FixedZone("", 2*3600), time.FixedZone("X", -(9*3600 + 30*60)), time.Local}
	t := time.Unix(r.Int64N(4e9), r.Int64N(1e9)*int64(r.IntN(2))).In(zones[r.IntN(len(zones))])
	return &t
}

func randomStringPtr(r *rand.Rand) *string {
	if r.IntN(3) == 0 {
		return nil
	}
	s := randomString(r)
	return &s
}

func randomCard(r *rand.Rand) cardDTO {
	c := cardDTO{
		Member: memberDTO{ID: randomString(r), Name: randomString(r), Email: randomStringPtr(r), Kind: randomString(r)},
		Shoot: shootDTO{ID: randomString(r), Status: randomString(r), CompletedAt: randomTime(r), DeletedAt: randomTime(r),
			RetryCount: r.IntN(5) - 1, ResultCount: r.IntN(1 << 20)},
		Retry:   cardRetryDTO{RetriesRemaining: r.IntN(4), Pending: r.IntN(2) == 0},
		Section: randomString(r),
	}
	switch r.IntN(3) {
	case 0: // nil: "null", as for a hand-built DTO
	case 1:
		c.Actions = []string{}
	default:
		c.Actions = []string{randomString(r), randomString(r)}
	}
	if r.IntN(2) == 0 {
		c.Shoot.MemberID = randomString(r)
		free := r.IntN(2) == 0
		c.Shoot.NextSubmissionFree = &free
		c.Shoot.CreatedAt = randomTime(r)
	}
	return c
}

func randomSection(r *rand.Rand) sectionDTO {
	p := sectionDTO{NextCursor: randomStringPtr(r), PrevCursor: randomStringPtr(r)}
	if r.IntN(2) == 0 {
		p.Section = randomString(r)
	}
	if r.IntN(5) > 0 {
		p.Cards = make([]cardDTO, r.IntN(6))
		for i := range p.Cards {
			p.Cards[i] = randomCard(r)
		}
	}
	return p
}

func sameAsMarshal(t *testing.T, want any, got []byte) {
	t.Helper()
	w, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(w, got) {
		t.Fatalf("hand-written JSON differs from json.Marshal:\n got %s\nwant %s", got, w)
	}
}

func TestDashboardJSONMatchesMarshal(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		page := randomSection(r)
		sameAsMarshal(t, page, appendSection(nil, &page))
	}
	for range 200 {
		pages := map[string]sectionDTO{}
		for _, name := range sectionNames {
			p := randomSection(r)
			p.Section = ""
			pages[name] = p
		}
		sameAsMarshal(t, map[string]any{"sections": pages}, appendSections(nil, sectionNames, pages))
	}
}

func TestSectionNamesSorted(t *testing.T) {
	if len(sectionNames) != len(sectionOrder) {
		t.Fatalf("sectionNames %v and sectionOrder %v name different sections", sectionNames, sectionOrder)
	}
	for i, name := range sectionNames {
		if !sections[name] || (i > 0 && sectionNames[i-1] >= name) {
			t.Fatalf("sectionNames %v: want every section once, sorted", sectionNames)
		}
	}
}

func FuzzDashboardJSONString(f *testing.F) {
	for _, s := range awkward {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sameAsMarshal(t, s, appendJSONString(nil, s))
		if !utf8.Valid(appendJSONString(nil, s)) {
			t.Fatalf("%q: output is not UTF-8", s)
		}
	})
}
