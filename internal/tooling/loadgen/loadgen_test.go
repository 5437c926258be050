package loadgen

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// The pool must read each answer to its end whatever its framing (a length, chunks, or a
// closed connection), so the next request on the connection starts clean; it must reuse
// connections, and it must report a wrong status with the answer's start.
func TestPoolReadsEveryFramingAndReusesConnections(t *testing.T) {
	var dials atomic.Int64
	var hits sync.Map
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Store(r.URL.RequestURI()+" "+r.Header.Get("Authorization"), true)
		switch r.URL.Path {
		case "/length":
			w.Header().Set("Content-Length", "5")
			_, _ = w.Write([]byte("hello"))
		case "/chunked":
			for range 100 { // larger than net/http's buffer, so it goes chunked
				_, _ = w.Write([]byte(strings.Repeat("x", 100)))
				w.(http.Flusher).Flush()
			}
		case "/close":
			w.Header().Set("Connection", "close")
			_, _ = w.Write([]byte("bye"))
		default:
			http.Error(w, "no such page", http.StatusNotFound)
		}
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			dials.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()

	p, err := New(srv.URL, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for i := range 20 {
		for _, path := range []string{"/length", "/chunked?i=1"} {
			if err := p.Get(path, "k", http.StatusOK); err != nil {
				t.Fatalf("call %d %s: %v", i, path, err)
			}
		}
	}
	if n := dials.Load(); n != 2 {
		t.Errorf("40 calls one at a time on a pool of 2 dialed %d connections, want 2", n)
	}
	if _, ok := hits.Load("/chunked?i=1 Bearer k"); !ok {
		t.Error("the server did not see the path with its query and the bearer token")
	}

	for range 3 {
		if err := p.Get("/close", "", http.StatusOK); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Get("/length", "", http.StatusOK); err != nil {
		t.Fatal(err)
	}
	if n := dials.Load(); n != 4 {
		t.Errorf("after three answers that close the connection: %d dials, want 4", n)
	}

	err = p.Get("/missing", "", http.StatusOK)
	var se *StatusError
	if !errors.As(err, &se) || se.Status != http.StatusNotFound || !strings.Contains(se.Body, "no such page") {
		t.Fatalf("wrong status: got %v, want a StatusError 404 with the body", err)
	}
	if err := p.Get("/length", "", http.StatusOK); err != nil {
		t.Fatalf("the connection after a 404: %v", err)
	}

	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			for range 25 {
				if err := p.Get("/chunked", "", http.StatusOK); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := dials.Load(); n != 5 {
		t.Errorf("8 goroutines on a pool of 2 dialed %d connections in all, want 5 (none new)", n)
	}
}

func TestNewRefusesWhatItCannotDial(t *testing.T) {
	for _, u := range []string{"https://example.com", "example.com:80", "http://"} {
		if _, err := New(u, 1); err == nil {
			t.Errorf("New(%q) accepted", u)
		}
	}
}
