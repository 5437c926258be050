package server

import (
	_ "embed"
	"net/http"

	"github.com/gin-gonic/gin"
)

// openAPIDocument is the API's OpenAPI 3.1 document (GET /openapi.json). It is
// kept true by tests: openapi_test.go compares its operations with the registered routes,
// and every integration test validates the answers it gets against it
// (internal/tooling/apptest).
//
//go:embed openapi.json
var openAPIDocument []byte

// OpenAPIDocument returns the OpenAPI document served at /openapi.json. The slice is
// shared: callers must not modify it.
func OpenAPIDocument() []byte { return openAPIDocument }

func (s *Server) getOpenAPI(c *gin.Context) {
	c.Data(http.StatusOK, "application/json", openAPIDocument)
}
