// Package querycount counts the statements a bun handle sends, for tests that hold a
// path to a number of round trips (apptest.Options.QueryHook, bun.DB.WithQueryHook).
package querycount

import (
	"context"
	"strings"
	"sync/atomic"

	"github.com/uptrace/bun"
)

// Counter is a bun query hook that counts the statements it sees, all of them or those
// whose text contains a fragment.
type Counter struct {
	fragment string
	n        atomic.Int64
}

// All counts every statement.
func All() *Counter { return &Counter{} }

// Containing counts the statements whose text contains fragment.
func Containing(fragment string) *Counter { return &Counter{fragment: fragment} }

// Count is how many statements were counted so far.
func (c *Counter) Count() int64 { return c.n.Load() }

// BeforeQuery counts the statement.
func (c *Counter) BeforeQuery(ctx context.Context, e *bun.QueryEvent) context.Context {
	if strings.Contains(e.Query, c.fragment) {
		c.n.Add(1)
	}
	return ctx
}

// AfterQuery does nothing.
func (c *Counter) AfterQuery(context.Context, *bun.QueryEvent) {}
