package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/uptrace/bun"
)

// IdempotencyTTL is how long an Idempotency-Key is remembered, as payment APIs do: long
// enough for any client's retries, short enough that the table does not grow forever.
const IdempotencyTTL = 24 * time.Hour

// ClaimIdempotencyKey records that a request with this key and hash is running, unless
// the key is already known: then it returns the existing claim, whose hash the caller
// compares and whose answer, once present, it replays. A key older than the TTL counts as
// unknown and is claimed afresh. The insert is atomic, so of two requests with one key
// exactly one claims it.
func ClaimIdempotencyKey(ctx context.Context, db bun.IDB, orgID, key, route, hash string, now time.Time) (*IdempotencyKey, error) {
	// Postgres keeps microseconds: the claim's time must read back as it was written,
	// because ids derive from it.
	now = now.UTC().Truncate(time.Microsecond)
	k := &IdempotencyKey{OrgID: orgID, Key: key, Route: route, RequestHash: hash, CreatedAt: now}
	res, err := db.NewRaw(`INSERT INTO idempotency_keys AS k (org_id, key, route, request_hash, created_at)
		VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (org_id, key) DO UPDATE SET route = EXCLUDED.route, request_hash = EXCLUDED.request_hash,
			status_code = NULL, response = NULL, created_at = EXCLUDED.created_at
		WHERE k.created_at < ?`, orgID, key, route, hash, now, now.Add(-IdempotencyTTL)).Exec(ctx)
	if err != nil {
		return nil, err
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return k, nil
	}
	existing := new(IdempotencyKey)
	err = db.NewSelect().Model(existing).Where("org_id = ? AND key = ?", orgID, key).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		// Expired and deleted between the two statements: claim it again.
		return ClaimIdempotencyKey(ctx, db, orgID, key, route, hash, now)
	}
	if err != nil {
		return nil, err
	}
	return existing, nil
}

// SaveIdempotentResponse keeps the final answer of a claimed key; the first answer wins,
// so concurrent requests with one key all replay the same bytes afterwards.
func SaveIdempotentResponse(ctx context.Context, db bun.IDB, orgID, key, hash string, status int, response []byte) error {
	_, err := db.NewUpdate().Model((*IdempotencyKey)(nil)).
		Set("status_code = ?", status).Set("response = ?", response).
		Where("org_id = ? AND key = ? AND request_hash = ? AND status_code IS NULL", orgID, key, hash).
		Exec(ctx)
	return err
}

// DeleteExpiredIdempotencyKeys deletes up to limit keys older than the TTL and says how
// many it deleted; the caller repeats while it deletes a full batch, so no statement
// holds locks for long.
func DeleteExpiredIdempotencyKeys(ctx context.Context, db bun.IDB, now time.Time, limit int) (int64, error) {
	res, err := db.NewRaw(`DELETE FROM idempotency_keys WHERE ctid = ANY (ARRAY(
		SELECT ctid FROM idempotency_keys WHERE created_at < ? LIMIT ?))`, now.Add(-IdempotencyTTL), limit).Exec(ctx)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
