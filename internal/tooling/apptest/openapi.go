package apptest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/google/uuid"

	"github.com/headshotpro/retryd/internal/problem"
	"github.com/headshotpro/retryd/server"
)

// Every answer an integration test gets through App.Do is checked against the service's
// OpenAPI document (server.OpenAPIDocument): the status must be one the operation
// declares, and the headers and body must match its schema. So the document stays true
// as long as the tests pass, and the tests check response shapes they never look at.

var openAPI struct {
	once   sync.Once
	doc    *openapi3.T
	router routers.Router
	err    error
}

func openAPIRouter() (*openapi3.T, routers.Router, error) {
	openAPI.once.Do(func() {
		doc, err := openapi3.NewLoader().LoadFromData(server.OpenAPIDocument())
		if err != nil {
			openAPI.err = fmt.Errorf("load openapi.json: %w", err)
			return
		}
		router, err := legacy.NewRouter(doc)
		if err != nil {
			openAPI.err = fmt.Errorf("route openapi.json: %w", err)
			return
		}
		openAPI.doc, openAPI.router = doc, router
	})
	return openAPI.doc, openAPI.router, openAPI.err
}

// uuidFormat checks format: uuid the way the API parses ids: 36 characters that
// uuid.Parse accepts.
type uuidFormat struct{}

func (uuidFormat) Validate(v string) error {
	if _, err := uuid.Parse(v); err != nil || len(v) != 36 {
		return fmt.Errorf("%q is not a UUID", v)
	}
	return nil
}

var schemaOptions = []openapi3.SchemaValidationOption{
	openapi3.WithStringFormatValidator("uuid", uuidFormat{}),
}

// validatedPath tells which answers are checked: the service's own routes, not the
// MailerSend stand-in (whose contract is MailerSend's) nor the metrics text.
func validatedPath(p string) bool {
	return strings.HasPrefix(p, "/api/") || p == "/healthz" || p == "/readyz" || p == "/openapi.json" || p == "/dev/mailbox" || p == "/dev/mailersend/faults"
}

// validateResponse fails the test when resp, the answer to req, is not what the OpenAPI
// document declares for the route and status.
func (a *App) validateResponse(t testing.TB, req *http.Request, resp *Response) {
	t.Helper()
	if req == nil || !validatedPath(req.URL.Path) {
		return
	}
	doc, router, err := openAPIRouter()
	if err != nil {
		t.Errorf("openapi: %v", err)
		return
	}
	// Routing needs the method and URL only; the clone keeps the caller's request as it was.
	r := req.Clone(context.Background())
	r.Body, r.GetBody = http.NoBody, nil
	what := req.Method + " " + req.URL.Path
	route, params, err := router.FindRoute(r)
	for name, v := range params {
		// The matcher lets an empty segment fill a path parameter. Gin routes some such
		// paths to the operation (…/members//retries, whose empty id is then 404
		// not_found) and others nowhere (…/members/, the router's 404 route_not_found);
		// the router's answer is checked as one.
		if err == nil && v == "" && isRouterAnswer(resp) {
			err = &routers.RouteError{Reason: "empty path parameter " + name}
		}
	}
	if err != nil {
		a.validateRouterAnswer(t, doc, what, err, resp)
		return
	}
	input := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route},
		Status:                 resp.Status,
		Header:                 resp.Header,
		Options: &openapi3filter.Options{
			IncludeResponseStatus:   true,
			MultiError:              true,
			SchemaValidationOptions: schemaOptions,
		},
	}
	input.SetBodyBytes(resp.Body)
	if err := openapi3filter.ValidateResponse(context.Background(), input); err != nil {
		t.Errorf("openapi: %s (operation %s %s) answered %d, which openapi.json does not allow: %v\nbody: %s",
			what, route.Method, route.Path, resp.Status, err, excerpt(resp.Body))
	}
}

// validateRouterAnswer checks an answer to a request the document has no operation for:
// only the router's own 404 route_not_found and 405 method_not_allowed are expected.
func (a *App) validateRouterAnswer(t testing.TB, doc *openapi3.T, what string, routeErr error, resp *Response) {
	t.Helper()
	var re *routers.RouteError
	if !errors.As(routeErr, &re) {
		t.Errorf("openapi: %s: %v", what, routeErr)
		return
	}
	if resp.Status != http.StatusNotFound && resp.Status != http.StatusMethodNotAllowed {
		t.Errorf("openapi: %s answered %d, but openapi.json has no such operation (%v)", what, resp.Status, routeErr)
		return
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		t.Errorf("openapi: %s answered %d with Content-Type %q, want application/problem+json", what, resp.Status, ct)
		return
	}
	if resp.Header.Get("X-Request-Id") == "" {
		t.Errorf("openapi: %s answered %d without X-Request-Id", what, resp.Status)
	}
	var body any
	if err := json.Unmarshal(resp.Body, &body); err != nil {
		t.Errorf("openapi: %s answered %d with a body that is not JSON: %s", what, resp.Status, excerpt(resp.Body))
		return
	}
	schema := doc.Components.Schemas["RouterProblem"].Value
	if err := schema.VisitJSON(body, append([]openapi3.SchemaValidationOption{openapi3.VisitAsResponse(), openapi3.MultiErrors()}, schemaOptions...)...); err != nil {
		t.Errorf("openapi: %s answered %d with a body that is not a RouterProblem: %v\nbody: %s", what, resp.Status, err, excerpt(resp.Body))
	}
}

func excerpt(b []byte) string {
	const max = 2000
	if len(b) > max {
		return string(b[:max]) + "…"
	}
	return string(b)
}

// isRouterAnswer tells the router's own refusals (no route, wrong method) from an
// operation's.
func isRouterAnswer(resp *Response) bool {
	var p struct {
		Code string `json:"code"`
	}
	_ = json.Unmarshal(resp.Body, &p)
	return p.Code == string(problem.RouteNotFound) || p.Code == string(problem.MethodNotAllowed)
}

// ValidateWebhookEvent checks a webhook event's body against the document's webhooks
// section: the event of its type must validate, and its data must name no field the
// schema leaves out (the schemas allow more fields, as receivers must, but retryd's own
// events are all documented).
func ValidateWebhookEvent(eventType string, body []byte) error {
	doc, _, err := openAPIRouter()
	if err != nil {
		return err
	}
	item := doc.Webhooks[eventType]
	if item == nil || item.Post == nil || item.Post.RequestBody == nil {
		return fmt.Errorf("openapi.json's webhooks has no %s", eventType)
	}
	schema := item.Post.RequestBody.Value.Content.Get("application/json").Schema.Value
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Errorf("the body is not JSON: %w", err)
	}
	opts := append([]openapi3.SchemaValidationOption{openapi3.VisitAsRequest(), openapi3.MultiErrors(), openapi3.EnableJSONSchema2020()}, schemaOptions...)
	if err := schema.VisitJSON(v, opts...); err != nil {
		return fmt.Errorf("not the %s event openapi.json describes: %w", eventType, err)
	}
	data, _ := v.(map[string]any)["data"].(map[string]any)
	documented := schema.Properties["data"].Value.Properties
	for name := range data {
		if _, ok := documented[name]; !ok {
			return fmt.Errorf("data.%s is not in openapi.json's %s event", name, eventType)
		}
	}
	return nil
}
