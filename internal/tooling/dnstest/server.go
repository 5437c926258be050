// Package dnstest is a DNS server on 127.0.0.1 for tests: it answers A and AAAA queries
// from a table the test changes as it goes, so code that resolves names runs through the
// real resolver to addresses the test picks (rebinding included), and meets the
// resolver's failures on cue: a name that does not exist, a server failure, no answer.
package dnstest

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

// Server is a running DNS server. Its zero value is not usable; call Start.
type Server struct {
	mu    sync.Mutex
	names map[string]entry // by lower-case name without the final dot
	addr  string
}

// entry is how the server answers one name.
type entry struct {
	addrs []netip.Addr
	rcode dnsmessage.RCode
	mute  bool
}

// Start serves records (name to addresses; an empty list is a name without addresses)
// until the test ends. A name not in the table does not exist (NXDOMAIN).
func Start(t testing.TB, records map[string][]string) *Server {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{addr: pc.LocalAddr().String(), names: map[string]entry{}}
	for name, addrs := range records {
		s.Set(name, addrs...)
	}
	done := make(chan struct{})
	t.Cleanup(func() { pc.Close(); <-done })
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if resp, ok := s.answer(buf[:n]); ok {
				_, _ = pc.WriteTo(resp, from)
			}
		}
	}()
	return s
}

func key(name string) string { return strings.TrimSuffix(strings.ToLower(name), ".") }

// Set makes name resolve to addrs from now on.
func (s *Server) Set(name string, addrs ...string) {
	e := entry{addrs: []netip.Addr{}, rcode: dnsmessage.RCodeSuccess}
	for _, a := range addrs {
		e.addrs = append(e.addrs, netip.MustParseAddr(a))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.names[key(name)] = e
}

// Fail makes the server answer name with SERVFAIL, which resolvers report as a
// temporary failure, until Set.
func (s *Server) Fail(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.names[key(name)] = entry{rcode: dnsmessage.RCodeServerFailure}
}

// Mute makes the server leave queries for name unanswered, so a lookup times out, until
// Set.
func (s *Server) Mute(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.names[key(name)] = entry{mute: true}
}

func (s *Server) answer(query []byte) ([]byte, bool) {
	var p dnsmessage.Parser
	h, err := p.Start(query)
	if err != nil {
		return nil, false
	}
	q, err := p.Question()
	if err != nil {
		return nil, false
	}
	s.mu.Lock()
	e, known := s.names[key(q.Name.String())]
	s.mu.Unlock()
	if !known {
		e.rcode = dnsmessage.RCodeNameError
	}
	if e.mute {
		return nil, false
	}
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired, RCode: e.rcode})
	if b.StartQuestions() != nil || b.Question(q) != nil || b.StartAnswers() != nil {
		return nil, false
	}
	rh := dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 0}
	for _, a := range e.addrs {
		switch {
		case q.Type == dnsmessage.TypeA && a.Is4():
			err = b.AResource(rh, dnsmessage.AResource{A: a.As4()})
		case q.Type == dnsmessage.TypeAAAA && a.Is6():
			err = b.AAAAResource(rh, dnsmessage.AAAAResource{AAAA: a.As16()})
		}
		if err != nil {
			return nil, false
		}
	}
	msg, err := b.Finish()
	return msg, err == nil
}

// Dial connects to the server, as a net.Resolver's Dial.
func (s *Server) Dial(ctx context.Context, _, _ string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "udp", s.addr)
}

// Resolver returns a pure-Go resolver that asks only this server (after /etc/hosts).
func (s *Server) Resolver() *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: s.Dial}
}
