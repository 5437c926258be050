package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"
)

// WebhookListener holds one pool connection listening on WebhookChannel.
type WebhookListener struct{ conn bun.Conn }

// ListenWebhooks takes a connection out of db's pool for as long as the listener lives.
func ListenWebhooks(ctx context.Context, db *bun.DB) (*WebhookListener, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := conn.ExecContext(ctx, "LISTEN "+WebhookChannel); err != nil {
		_ = conn.Close()
		return nil, err
	}
	return &WebhookListener{conn: conn}, nil
}

// ErrListenerBroken: the listening connection failed; make a new listener.
var ErrListenerBroken = errors.New("webhook listener: connection lost")

// Wait returns nil once a delivery was announced, ctx's error when ctx ends first (the
// connection stays usable: pgx keeps a connection whose read merely timed out), and an
// error wrapping ErrListenerBroken when the connection failed.
func (l *WebhookListener) Wait(ctx context.Context) error {
	return l.conn.Raw(func(dc any) error {
		c, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("%w: not a pgx connection", ErrListenerBroken)
		}
		_, err := c.Conn().WaitForNotification(ctx)
		if err == nil || ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("%w: %v", ErrListenerBroken, err)
	})
}

// Flush reads the notifications already arrived, and those arriving within a
// millisecond of each other, and answers how many: Postgres folds notifications only
// within one transaction, so a burst of commits sends one each, and one look for
// deliveries answers them all. It stops after 50 ms, so a steady stream is still looked at.
func (l *WebhookListener) Flush(ctx context.Context) int {
	end := time.Now().Add(50 * time.Millisecond)
	n := 0
	for time.Now().Before(end) {
		c, cancel := context.WithTimeout(ctx, time.Millisecond)
		err := l.Wait(c)
		cancel()
		if err != nil {
			return n
		}
		n++
	}
	return n
}

// Close returns the connection, which is discarded rather than reused: it still listens.
func (l *WebhookListener) Close() {
	// ErrBadConn from Raw makes database/sql close the connection instead of pooling it.
	_ = l.conn.Raw(func(any) error { return driver.ErrBadConn })
	_ = l.conn.Close()
}
