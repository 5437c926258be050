package store

import (
	"context"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/schema"
)

// writes gathers statements whose results nobody reads, to send them to Postgres in one
// round trip. The simple query protocol (OpenPool) carries several statements in one
// message; inside a transaction they run in it, in order, and the first one that fails
// stops the rest and fails the transaction, as it would have sent alone. A transaction on
// a path someone waits for (a give, a member's start) then pays one round trip for its
// writes instead of one for each.
//
// The text is bun's own rendering of each statement (bun writes every value into the
// SQL text; the driver never binds parameters), sent as it is: with no arguments, bun
// does not read it for placeholders again, so a '?' inside a value stays a '?'.
type writes struct {
	gen schema.QueryGen
	sql []byte
	err error
}

func newWrites(db bun.IDB) *writes {
	return &writes{gen: db.NewRaw("").DB().QueryGen()}
}

// add appends a statement; nil adds nothing.
func (w *writes) add(q schema.QueryAppender) {
	if w.err != nil || q == nil {
		return
	}
	if len(w.sql) > 0 {
		w.sql = append(w.sql, ";\n"...)
	}
	w.sql, w.err = q.AppendQuery(w.gen, w.sql)
}

// exec sends the statements gathered, in one round trip.
func (w *writes) exec(ctx context.Context, db bun.IDB) error {
	if w.err != nil || len(w.sql) == 0 {
		return w.err
	}
	_, err := db.ExecContext(ctx, string(w.sql))
	return err
}
