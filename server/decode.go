package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/headshotpro/retryd/internal/problem"
)

// readBody reads the whole (bounded) body. JSON is expected; a missing Content-Type and
// curl's default form type are taken as JSON too, since clients that send JSON without
// saying so are common, while a body declared as another type is refused.
func readBody(c *gin.Context) ([]byte, error) {
	if ct := c.GetHeader("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json") && mt != "application/x-www-form-urlencoded") {
			return nil, problem.New(problem.UnsupportedMedia, "send the body as application/json")
		}
	}
	b, err := io.ReadAll(c.Request.Body)
	if err != nil {
		var maxErr *http.MaxBytesError
		if errors.As(err, &maxErr) {
			return nil, problem.New(problem.PayloadTooLarge, "the request body is larger than %d bytes", maxErr.Limit)
		}
		return nil, problem.New(problem.InvalidBody, "the request body could not be read")
	}
	return b, nil
}

// bindJSON reads and decodes the body, answering the problem itself; false means the
// handler must return.
func (s *Server) bindJSON(c *gin.Context, dst any, allowEmpty bool) ([]byte, bool) {
	body, err := readBody(c)
	if err == nil {
		err = decodeJSON(body, dst, allowEmpty)
	}
	if err != nil {
		s.fail(c, err)
		return nil, false
	}
	return body, true
}

// decodeJSON decodes one JSON object. Members the API does not know are ignored (clients
// may send more than we read); malformed JSON, wrong types, trailing data and strings
// Postgres cannot store (NUL) are refused with a message naming the problem, never a 500.
// An empty body decodes to the zero value when allowEmpty.
func decodeJSON(body []byte, dst any, allowEmpty bool) error {
	if len(bytes.TrimSpace(body)) == 0 {
		if allowEmpty {
			return nil
		}
		return problem.New(problem.InvalidBody, "a JSON object is required")
	}
	if bytes.Contains(body, []byte(`\u0000`)) || !utf8.Valid(body) {
		return problem.New(problem.InvalidBody, "the body must be UTF-8 text without NUL characters")
	}
	if err := refuseDuplicateFields(body); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(dst); err != nil {
		return problem.New(problem.InvalidBody, "%s", describeJSONError(err))
	}
	if dec.More() {
		return problem.New(problem.InvalidBody, "the body must hold exactly one JSON object")
	}
	return nil
}

// refuseDuplicateFields refuses a body in which one object, at any depth, names a member
// twice, exactly or in another case ("member_ids" and "MEMBER_IDS"). encoding/json
// matches names regardless of case and keeps the last, while canonicalJSON tells the two
// apart: such a body could run as something other than what its Idempotency-Key hash
// was taken of, and two different requests could share one hash. Names are compared as
// encoding/json compares them (Unicode simple case folding, after unescaping). Malformed
// JSON is left to the decoder, which describes it.
func refuseDuplicateFields(body []byte) error {
	type object struct {
		names   map[string]bool
		wantKey bool
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var stack []*object // open containers; nil for an array
	done := func() {    // a value ended: the object it belongs to expects a name next
		if n := len(stack); n > 0 && stack[n-1] != nil {
			stack[n-1].wantKey = true
		}
	}
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil
		}
		var top *object
		if n := len(stack); n > 0 {
			top = stack[n-1]
		}
		if name, ok := tok.(string); ok && top != nil && top.wantKey {
			folded := foldName(name)
			if top.names[folded] {
				return problem.New(problem.DuplicateField, "the member %q appears more than once in one object (names are matched regardless of case)", truncate(name, 64))
			}
			top.names[folded] = true
			top.wantKey = false
			continue
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &object{names: map[string]bool{}, wantKey: true})
		case json.Delim('['):
			stack = append(stack, nil)
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
			done()
		default:
			done()
		}
		if len(stack) == 0 {
			// Only the first value is the body; trailing data is the decoder's to refuse.
			return nil
		}
	}
}

// foldName maps every name encoding/json would match with name to one string, the way
// encoding/json folds names: each rune becomes the smallest rune of its case orbit.
func foldName(name string) string {
	var b strings.Builder
	b.Grow(len(name))
	for _, r := range name {
		// SimpleFold steps up through the orbit and wraps around to its smallest rune.
		for {
			f := unicode.SimpleFold(r)
			if f <= r {
				r = f
				break
			}
			r = f
		}
		b.WriteRune(r)
	}
	return b.String()
}

// truncate bounds a client's value (a member name, an action) to n characters, so it
// can be quoted back in a problem's detail.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}

// canonicalJSON is the body with insignificant whitespace and member order removed, so
// an Idempotency-Key replay does not depend on how the client formatted the JSON.
// Numbers keep their digits: as float64 two counts past 2^53 would hash alike.
func canonicalJSON(body []byte) []byte {
	var v any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if dec.Decode(&v) != nil || dec.More() {
		return body
	}
	out, err := json.Marshal(v)
	if err != nil {
		return body
	}
	return out
}

// validText is what Postgres can store in a text column.
func validText(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

func describeJSONError(err error) string {
	var syntax *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return fmt.Sprintf("malformed JSON at byte %d", syntax.Offset)
	case errors.As(err, &typeErr):
		if typeErr.Field != "" {
			return fmt.Sprintf("field %q must be %s", typeErr.Field, typeErr.Type.String())
		}
		return "the body must be a JSON object"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "the JSON body ends too early"
	}
	return "the body is not valid JSON"
}

// canonicalUUID accepts an id only in the 36-character hyphenated form and returns it as
// Postgres prints it (lower case). uuid.Parse alone is not enough: it also takes
// urn:uuid:, braced and undashed spellings, and Postgres refuses urn:uuid:, so such an id
// would reach a query and fail there as a server error instead of a refusal.
func canonicalUUID(v string) (string, bool) {
	if len(v) != 36 {
		return "", false
	}
	u, err := uuid.Parse(v)
	if err != nil {
		return "", false
	}
	return u.String(), true
}
