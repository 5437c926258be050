package server

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/headshotpro/retryd/internal/apikey"
	"github.com/headshotpro/retryd/internal/keycache"
	"github.com/headshotpro/retryd/internal/metrics"
	"github.com/headshotpro/retryd/internal/problem"
	"github.com/headshotpro/retryd/internal/ratelimit"
	"github.com/headshotpro/retryd/internal/store"
)

// The failed-key throttle. Keys are 256 random bits, so the throttle is not what keeps
// them from being guessed; it keeps a guesser (or a client stuck on a revoked key) from
// costing a database lookup per request, and makes the admin pages' sign-in limit
// impossible to sidestep through the API.
const (
	// authFailureBurst failed keys per client address, and per key prefix, are looked
	// up; then one more every authFailureEvery. A client repeating one wrong key is
	// answered from memory (unknownKeyTTL), so it never spends the allowance faster
	// than one failure per unknownKeyTTL, below the refill.
	authFailureBurst = 20
	authFailureEvery = 3 * time.Second
	// unknownKeyTTL is how long a refused key is refused without a lookup, and so how
	// long a key stays refused after `retryd seed` or `keys create` brings it, if it was
	// tried just before.
	unknownKeyTTL = 5 * time.Second
	// knownKeyTTL: a key that resolved within this time on this process is spared the
	// throttles, so failures from its address or under its public prefix cannot lock it
	// out.
	knownKeyTTL = time.Hour
	// throttledKeys bounds each throttle's table; guardCacheSize each cache of hashes.
	throttledKeys  = 100_000
	guardCacheSize = 10_000
)

// keyGuard is what stands between a presented API key and the database.
type keyGuard struct {
	byAddress *ratelimit.Limiter
	byPrefix  *ratelimit.Limiter
	unknown   *keycache.Cache[struct{}] // hashes refused moments ago
	known     *keycache.Cache[struct{}] // hashes that resolved within knownKeyTTL
}

func newKeyGuard(now func() time.Time) *keyGuard {
	return &keyGuard{
		byAddress: ratelimit.Every(authFailureEvery, authFailureBurst, throttledKeys, now),
		byPrefix:  ratelimit.Every(authFailureEvery, authFailureBurst, throttledKeys, now),
		unknown:   keycache.New[struct{}](unknownKeyTTL, guardCacheSize, now),
		known:     keycache.New[struct{}](knownKeyTTL, guardCacheSize, now),
	}
}

// errUnknownKey: no live key has this hash (never issued, or revoked).
var errUnknownKey = errors.New("the API key is not valid or was revoked")

// throttledError: too many failed keys from the client's address or under the key's
// prefix; the client may try again after wait.
type throttledError struct{ wait time.Duration }

func (e *throttledError) Error() string {
	return fmt.Sprintf("too many failed API keys; try again in %s", e.wait)
}

// retryAfter is the wait in whole seconds, at least 1, for a Retry-After header.
func (e *throttledError) retryAfter() int {
	return max(1, int((e.wait+time.Second-1)/time.Second))
}

// resolveKey resolves an API key presented by the client at addr (c.ClientIP()). In
// order: a key resolved within API_KEY_CACHE_TTL passes from memory; a key refused
// moments ago is refused from memory; a client address or a key prefix whose failures
// are spent is refused with a throttledError before any lookup (a key this process saw
// resolve within the hour is spared both); then the database decides,
// and a refusal spends one failure of the address and of the prefix. The errors are
// errUnknownKey, *throttledError or a database error.
func (s *Server) resolveKey(ctx context.Context, addr, key string) (store.Principal, error) {
	hash := apikey.Hash(key)
	if p, ok := s.keys.Get(hash); ok {
		return p, nil
	}
	g := s.guard
	if _, ok := g.unknown.Get(hash); ok {
		s.metrics.AuthFailure(metrics.AuthUnknownCached)
		return store.Principal{}, errUnknownKey
	}
	addr = addressKey(addr)
	prefix := apikey.Display(key) // the public part, as listings show it
	// A key this process saw resolve within the hour is spared both throttles: they keep
	// unknown keys from the database, and sparing it keeps a guesser behind the same
	// address (an office's NAT, a proxy) or under the same prefix from locking it out.
	var wait time.Duration
	if _, known := g.known.Get(hash); !known {
		wait = max(g.byAddress.Wait(addr), g.byPrefix.Wait(prefix))
	}
	if wait > 0 {
		s.metrics.AuthFailure(metrics.AuthThrottled)
		return store.Principal{}, &throttledError{wait: wait}
	}
	p, err := store.FindAPIKey(ctx, s.db, hash)
	if err != nil {
		if pe, ok := problem.As(err); ok && pe.Code == problem.NotFound {
			g.unknown.Put(hash, struct{}{})
			g.byAddress.Spend(addr)
			g.byPrefix.Spend(prefix)
			s.metrics.AuthFailure(metrics.AuthUnknownKey)
			return store.Principal{}, errUnknownKey
		}
		return store.Principal{}, err
	}
	s.keys.Put(hash, *p)
	g.known.Put(hash, struct{}{})
	return *p, nil
}

// addressKey is the throttle's key for a client address: the address itself, or for
// IPv6 its /64, which one client usually holds whole and could otherwise walk through.
func addressKey(addr string) string {
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return addr
	}
	ip = ip.Unmap()
	if ip.Is6() {
		if p, err := ip.Prefix(64); err == nil {
			return p.String()
		}
	}
	return ip.String()
}
