package server

import (
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/headshotpro/retryd/internal/store"
)

// TestDecodeCursorRefusesNonCanonicalIDs: uuid.Parse also takes urn:uuid:, braced and
// undashed forms, and Postgres refuses urn:uuid:. A cursor is only ever made from an id
// Postgres printed, so any other spelling is a forged cursor and must be refused here,
// not reach the query and come back as a 500.
func TestDecodeCursorRefusesNonCanonicalIDs(t *testing.T) {
	id := uuid.NewString()
	for _, bad := range []string{
		"urn:uuid:" + id,
		"URN:UUID:" + id,
		"{" + id + "}",
		strings.ReplaceAll(id, "-", ""),
		strings.ToUpper(id),
		"",
		"x",
	} {
		if cur, ok := decodeCursor(encodeCursor(store.Cursor{Name: "Ada", ID: bad})); ok {
			t.Errorf("decodeCursor accepted id %q as %+v", bad, cur)
		}
	}
	cur, ok := decodeCursor(encodeCursor(store.Cursor{Name: "Ada", ID: id}))
	if !ok || cur.ID != id || cur.Name != "Ada" {
		t.Fatalf("decodeCursor(canonical) = %+v, %v", cur, ok)
	}
}
