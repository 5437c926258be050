package server_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/headshotpro/retryd/internal/tooling/apptest"
	"github.com/headshotpro/retryd/server"
)

// TestOversizedBodyGets413: a client that writes its whole 2 MB body before reading the
// answer (Python's urllib and many SDKs do) must get the 413 problem every time, not a
// connection reset. The server stops reading at the limit; if it then closes with the
// rest of the body unread, the kernel answers the unread data with a reset that can
// destroy the 413 before the client reads it. Both framings are covered: a declared
// Content-Length and a chunked body whose size is only known while reading it.
func TestOversizedBodyGets413(t *testing.T) {
	app := apptest.Start(t, apptest.Options{})
	org := app.SeedOrg(t, 5, person("Ola Oversized", finished(5, 3)))
	id, shoots := seeded(org, 0)
	u, err := url.Parse(app.URL)
	if err != nil {
		t.Fatal(err)
	}
	path := "/api/v1/admin/members/" + id + "/retries"
	body := `{"shoot_id":"` + shoots[0] + `","note":"` + strings.Repeat("x", 2<<20) + `"}`

	for _, chunked := range []bool{false, true} {
		name := "content_length"
		if chunked {
			name = "chunked"
		}
		t.Run(name, func(t *testing.T) {
			for attempt := range 30 {
				status, ct, raw, err := writeWholeBodyThenRead(u.Host, path, org.AdminKey, body, chunked)
				if err != nil {
					t.Fatalf("attempt %d: %v", attempt, err)
				}
				if status != http.StatusRequestEntityTooLarge || !strings.HasPrefix(ct, "application/problem+json") {
					t.Fatalf("attempt %d: %d %s %s", attempt, status, ct, raw)
				}
				p := apptest.Decode[server.ProblemBody](t, &apptest.Response{Status: status, Body: raw})
				if p.Code != "payload_too_large" {
					t.Fatalf("attempt %d: code %q, want payload_too_large; body %s", attempt, p.Code, raw)
				}
			}
		})
	}
	expectNoWorkflow(t, app, shoots[0])
}

// writeWholeBodyThenRead speaks HTTP/1.1 over a plain TCP connection the way such clients
// do: the request line, headers and the entire body are written first, then the answer
// is read.
func writeWholeBodyThenRead(host, path, key, body string, chunked bool) (status int, contentType string, raw []byte, err error) {
	conn, err := net.Dial("tcp", host)
	if err != nil {
		return 0, "", nil, err
	}
	defer conn.Close()
	// On loopback the kernel's buffers can absorb all 2 MB at once, which hides the
	// problem; over a real network far less is in flight. A small send buffer makes the
	// write wait on the server reading, as it would there.
	if err := conn.(*net.TCPConn).SetWriteBuffer(64 << 10); err != nil {
		return 0, "", nil, err
	}
	// A bound on the whole exchange, so a server that never answers fails the test
	// instead of hanging it; it is not an assertion about speed.
	if err := conn.SetDeadline(time.Now().Add(30 * time.Second)); err != nil {
		return 0, "", nil, err
	}
	w := bufio.NewWriterSize(conn, 64<<10)
	fmt.Fprintf(w, "POST %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\n", path, host, key)
	if chunked {
		fmt.Fprintf(w, "Transfer-Encoding: chunked\r\n\r\n")
		for rest := body; rest != ""; {
			n := min(len(rest), 16<<10)
			fmt.Fprintf(w, "%x\r\n%s\r\n", n, rest[:n])
			rest = rest[n:]
		}
		fmt.Fprintf(w, "0\r\n\r\n")
	} else {
		fmt.Fprintf(w, "Content-Length: %d\r\n\r\n%s", len(body), body)
	}
	if err := w.Flush(); err != nil {
		return 0, "", nil, fmt.Errorf("writing the body: %w", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return 0, "", nil, fmt.Errorf("reading the answer: %w", err)
	}
	defer resp.Body.Close()
	raw, err = io.ReadAll(resp.Body)
	if err != nil {
		return 0, "", nil, fmt.Errorf("reading the answer's body: %w", err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), raw, nil
}
