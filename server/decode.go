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
	"unicode/utf8"

	"github.com/gin-gonic/gin"

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
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(dst); err != nil {
		return problem.New(problem.InvalidBody, "%s", describeJSONError(err))
	}
	if dec.More() {
		return problem.New(problem.InvalidBody, "the body must hold exactly one JSON object")
	}
	return nil
}

// canonicalJSON is the body with insignificant whitespace and member order removed, so
// an Idempotency-Key replay does not depend on how the client formatted the JSON.
func canonicalJSON(body []byte) []byte {
	var v any
	if json.Unmarshal(body, &v) != nil {
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
