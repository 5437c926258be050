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

	"github.com/gin-gonic/gin"

	"github.com/headshotpro/retryd/internal/problem"
)

// readBody reads the whole (bounded) body; the idempotency check hashes these bytes.
func readBody(c *gin.Context) ([]byte, error) {
	if ct := c.GetHeader("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
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

// decodeJSON strictly decodes one JSON object: unknown fields and trailing data are
// refused with a message naming the problem, never a 500. An empty body decodes to the
// zero value when allowEmpty.
func decodeJSON(body []byte, dst any, allowEmpty bool) error {
	if len(bytes.TrimSpace(body)) == 0 {
		if allowEmpty {
			return nil
		}
		return problem.New(problem.InvalidBody, "a JSON object is required")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return problem.New(problem.InvalidBody, "%s", describeJSONError(err))
	}
	if dec.More() {
		return problem.New(problem.InvalidBody, "the body must hold exactly one JSON object")
	}
	return nil
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
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "the JSON body ends too early"
	}
	return "the body is not valid JSON"
}
