package server

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/headshotpro/retryd/internal/problem"
	"github.com/headshotpro/retryd/internal/store"
)

// Fuzz targets for the request decoders: whatever the bytes, a decoder either refuses
// with a 4xx problem or yields values the rest of the service (and Postgres) accepts.

// pgCanonicalUUID is the one spelling of a UUID that Postgres prints; every id the API
// passes on must already be in it.
var pgCanonicalUUID = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

const seedUUID = "0b7c5d4e-1f2a-4b3c-8d9e-abcdef012345"

func uuidSeeds() []string {
	return []string{seedUUID, strings.ToUpper(seedUUID), "urn:uuid:" + seedUUID, "{" + seedUUID + "}",
		strings.ReplaceAll(seedUUID, "-", ""), seedUUID[:35], seedUUID + "0", "", "x",
		"0b7c5d4e-1f2a-4b3c-8d9e-abcdef01234\u00e9", "0b7c5d4e+1f2a-4b3c-8d9e-abcdef012345"}
}

// FuzzCanonicalUUID: an accepted id comes back in Postgres's spelling, is the input up
// to case, and is accepted again unchanged.
func FuzzCanonicalUUID(f *testing.F) {
	for _, s := range uuidSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		id, ok := canonicalUUID(v)
		if !ok {
			return
		}
		if !pgCanonicalUUID.MatchString(id) || id != strings.ToLower(v) {
			t.Fatalf("canonicalUUID(%q) = %q", v, id)
		}
		if again, ok := canonicalUUID(id); !ok || again != id {
			t.Fatalf("canonicalUUID(%q) = %q, %v", id, again, ok)
		}
	})
}

// FuzzDecodeCursor: an accepted cursor names a canonical id and storable text, and
// encodes back to a cursor that decodes to the same position.
func FuzzDecodeCursor(f *testing.F) {
	b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	f.Add(encodeCursor(store.Cursor{Name: "Ada Alpha", ID: seedUUID}))
	for _, id := range uuidSeeds() {
		f.Add(b64(`{"n":"A","i":"` + id + `"}`))
	}
	for _, s := range []string{"", "!!!", b64("hello"), b64(`{}`), b64(`{"n":1,"i":2}`), b64(`{"n":"\u0000","i":"` + seedUUID + `"}`),
		b64(`[]`), b64(`{"n":"A","i":"` + seedUUID + `"}x`), b64(`{"n":"A","i":"`+seedUUID+`"}`) + "="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		cur, ok := decodeCursor(v)
		if !ok {
			if cur != nil {
				t.Fatalf("decodeCursor(%q) refused but returned %+v", v, cur)
			}
			return
		}
		if !pgCanonicalUUID.MatchString(cur.ID) || !validText(cur.Name) {
			t.Fatalf("decodeCursor(%q) = %+v: id not canonical or name not storable", v, cur)
		}
		again, ok := decodeCursor(encodeCursor(*cur))
		if !ok || *again != *cur {
			t.Fatalf("round trip of %+v = %+v, %v", cur, again, ok)
		}
	})
}

// FuzzCursorRoundTrip: every position the dashboard can hand out (a storable name and a
// canonical id) survives encoding.
func FuzzCursorRoundTrip(f *testing.F) {
	f.Add("Ada Alpha", seedUUID)
	f.Add("", seedUUID)
	f.Add("Zoë \"Q\" <z>", seedUUID)
	f.Fuzz(func(t *testing.T, name, id string) {
		if !validText(name) || !pgCanonicalUUID.MatchString(id) {
			return
		}
		c := store.Cursor{Name: name, ID: id}
		got, ok := decodeCursor(encodeCursor(c))
		if !ok || *got != c {
			t.Fatalf("decodeCursor(encodeCursor(%+v)) = %+v, %v", c, got, ok)
		}
	})
}

func bodySeeds() []string {
	return []string{
		`{"shoot_id":"` + seedUUID + `"}`,
		`{"shoot_id":"` + seedUUID + `","reason":"Bad lighting","note":"too dark"}`,
		`{"member_ids":["` + seedUUID + `","x"]}`,
		`{"results":["a.jpg",{"storage_key":"b.jpg"},{"url":"https://x/c.jpg"}],"result_count":3}`,
		`{"results":3}`, `{"result_count":-1}`, `{"email":"ada@example.test"}`,
		``, ` `, `null`, `[]`, `"x"`, `{"a":1} {"a":2}`, `{"note":"a\u0000b"}`, `{"note":"\ud800"}`,
		"{\"note\":\"\xff\"}", `{"shoot_id":42}`, `{"results":{"a":1}}`, `{`, `{"a":` + strings.Repeat("[", 1000),
		`{"result_count":9007199254740993}`, `{"results":[{"url":"a.jpg","storage_key":"b.jpg"}]}`,
	}
}

// walkStrings calls f with every string in a decoded value (struct fields, slices,
// maps, pointers and raw JSON, which is decoded first).
func walkStrings(v reflect.Value, f func(string)) {
	switch v.Kind() {
	case reflect.String:
		f(v.String())
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			walkStrings(v.Elem(), f)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			walkStrings(v.Field(i), f)
		}
	case reflect.Map:
		for it := v.MapRange(); it.Next(); {
			walkStrings(it.Key(), f)
			walkStrings(it.Value(), f)
		}
	case reflect.Slice, reflect.Array:
		if raw, ok := v.Interface().(json.RawMessage); ok {
			var any any
			if json.Unmarshal(raw, &any) == nil {
				walkStrings(reflect.ValueOf(&any), f)
			}
			return
		}
		for i := range v.Len() {
			walkStrings(v.Index(i), f)
		}
	}
}

// FuzzDecodeJSON drives decodeJSON with every request type the API decodes, then the
// validation each handler applies next. Refusals are 400 invalid_body or 422
// duplicate_field; whatever is accepted holds only text Postgres can store, validated
// ids are canonical, and the canonical form an Idempotency-Key hashes decodes to the
// very request that runs (so two requests that differ never share a hash).
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range bodySeeds() {
		f.Add([]byte(s))
	}
	for _, s := range duplicateFieldBodies {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		targets := []any{new(giveRetryRequest), new(bulkRestartRequest), new(completeRequest), new(linkRequest), new(struct{}), new(any)}
		for _, dst := range targets {
			for _, allowEmpty := range []bool{false, true} {
				err := decodeJSON(body, dst, allowEmpty)
				if err != nil {
					if pe, ok := problem.As(err); !ok || (pe.Code != problem.InvalidBody && pe.Code != problem.DuplicateField) {
						t.Fatalf("decodeJSON(%q, %T) = %v, want invalid_body or duplicate_field", body, dst, err)
					}
					continue
				}
				walkStrings(reflect.ValueOf(dst), func(s string) {
					if !validText(s) {
						t.Fatalf("decodeJSON(%q, %T) accepted %q, which Postgres cannot store", body, dst, s)
					}
				})
			}
		}
		sameAsCanonical(t, body)
		var give giveRetryRequest
		if decodeJSON(body, &give, false) == nil && give.validate() == nil {
			if _, ok := canonicalUUID(give.ShootID); !ok {
				t.Fatalf("validate accepted shoot_id %q", give.ShootID)
			}
			if give.Reason != nil && !regexp.MustCompile(`^[a-z0-9_]*$`).MatchString(*give.Reason) {
				t.Fatalf("validate accepted reason %q, which is not a code", *give.Reason)
			}
		}
		var done completeRequest
		if decodeJSON(body, &done, true) == nil {
			keys, err := done.resultKeys(seedUUID)
			if err != nil {
				if pe, ok := problem.As(err); !ok || pe.Code != problem.InvalidBody {
					t.Fatalf("resultKeys(%q) = %v, want invalid_body", body, err)
				}
				return
			}
			if len(keys) > maxResults {
				t.Fatalf("resultKeys(%q) gave %d keys", body, len(keys))
			}
			for _, k := range keys {
				if k == "" || len(k) > 1024 || !validText(k) {
					t.Fatalf("resultKeys(%q) gave key %q", body, k)
				}
			}
		}
	})
}

// sameAsCanonical checks that a body every request type accepts means the same request
// in the canonical form its Idempotency-Key hash is taken of.
func sameAsCanonical(t *testing.T, body []byte) {
	t.Helper()
	canon := canonicalJSON(body)
	for _, newDst := range []func() any{
		func() any { return new(giveRetryRequest) }, func() any { return new(bulkRestartRequest) },
		func() any { return new(linkRequest) },
	} {
		a, b := newDst(), newDst()
		if decodeJSON(body, a, true) != nil {
			continue
		}
		if err := decodeJSON(canon, b, true); err != nil || !reflect.DeepEqual(a, b) {
			t.Fatalf("%q decodes to %+v, its canonical form %q to %+v (%v)", body, a, canon, b, err)
		}
	}
	var a, b completeRequest
	if decodeJSON(body, &a, true) != nil {
		return
	}
	if err := decodeJSON(canon, &b, true); err != nil {
		t.Fatalf("%q is accepted, its canonical form %q is not: %v", body, canon, err)
	}
	ka, ea := a.resultKeys(seedUUID)
	kb, eb := b.resultKeys(seedUUID)
	if !reflect.DeepEqual(ka, kb) || (ea == nil) != (eb == nil) || (a.ResultCount == nil) != (b.ResultCount == nil) ||
		(a.ResultCount != nil && *a.ResultCount != *b.ResultCount) {
		t.Fatalf("%q reports %v (%v), its canonical form %q %v (%v)", body, ka, ea, canon, kb, eb)
	}
}

// FuzzReadBody: whatever the declared type and body, readBody answers the body or a 4xx
// problem (415 for a declared non-JSON type, 413 past the limit), through the same body
// limit the server puts on every request.
func FuzzReadBody(f *testing.F) {
	for _, ct := range []string{"", "application/json", "application/json; charset=utf-8", "application/problem+json",
		"application/x-www-form-urlencoded", "text/plain", "application/json; charset", ";;", "multipart/form-data; boundary=x"} {
		f.Add(ct, []byte(`{"a":1}`), false)
	}
	f.Add("application/json", bytes.Repeat([]byte("x"), maxBodyBytes+1), false)
	f.Add("application/json", bytes.Repeat([]byte("x"), maxBodyBytes+1), true)
	gin.SetMode(gin.ReleaseMode)
	f.Fuzz(func(t *testing.T, contentType string, body []byte, chunked bool) {
		c, _ := gin.CreateTestContext(httptest.NewRecorder())
		c.Request = httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		if chunked {
			c.Request.ContentLength = -1
		}
		c.Request.Header["Content-Type"] = []string{contentType}
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, maxBodyBytes)
		got, err := readBody(c)
		if err == nil {
			if !bytes.Equal(got, body) || len(body) > maxBodyBytes {
				t.Fatalf("readBody returned %d bytes for a %d-byte body", len(got), len(body))
			}
			return
		}
		pe, ok := problem.As(err)
		if !ok || pe.Code.Status() < 400 || pe.Code.Status() >= 500 {
			t.Fatalf("readBody(%q, %d bytes) = %v, want a 4xx problem", contentType, len(body), err)
		}
		if pe.Code == problem.PayloadTooLarge && len(body) <= maxBodyBytes {
			t.Fatalf("readBody refused %d bytes as too large", len(body))
		}
	})
}
