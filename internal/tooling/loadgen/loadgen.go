// Package loadgen is the benchmarks' HTTP client for read load: GET requests over
// keep-alive HTTP/1.1 connections, one request in flight per connection, each answer
// parsed by net/http's own response reader and read to its end.
//
// Why not net/http's client: a throughput benchmark on one machine shares its cores
// between the load and what it measures, so the load's own CPU comes off the measured
// figure. net/http's Transport hands every request and answer between goroutines (a
// write loop and a read loop per connection) and builds a Request with a URL and a
// header map per call; per request that cost the cores about as much as the handler it
// was measuring. The database floor it is compared with sends its statements with pgx on
// the same cores, a lean client; this one is the HTTP equivalent, as wrk or hey would be
// on another machine.
package loadgen

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"
)

// Timeout bounds one request, from its write to the last byte of its answer.
const Timeout = 60 * time.Second

// Pool holds up to size connections to one server; Get takes a free one, dialing when
// none is idle, so size calls can run at once.
type Pool struct {
	addr, host string
	conns      chan *conn
}

type conn struct {
	nc  net.Conn
	br  *bufio.Reader
	req []byte
}

// StatusError is an answer with another status than the one asked for.
type StatusError struct {
	Path         string
	Status, Want int
	Body         string // the answer's first bytes
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("GET %s: status %d, want %d: %s", e.Path, e.Status, e.Want, e.Body)
}

// New makes a pool for the server at baseURL (http://host:port).
func New(baseURL string, size int) (*Pool, error) {
	u, err := url.Parse(baseURL)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return nil, fmt.Errorf("loadgen: %q is not an http://host:port URL", baseURL)
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "80")
	}
	p := &Pool{addr: addr, host: u.Host, conns: make(chan *conn, size)}
	for range size {
		p.conns <- nil // a slot: dialed on first use
	}
	return p, nil
}

// Get sends GET path with the bearer token (none when empty) and reads the whole
// answer, which must have status want. A connection that failed or that the server
// closes is dropped and its slot dials again.
func (p *Pool) Get(path, bearer string, want int) error {
	c := <-p.conns
	if c == nil {
		nc, err := net.DialTimeout("tcp", p.addr, Timeout)
		if err != nil {
			p.conns <- nil
			return err
		}
		c = &conn{nc: nc, br: bufio.NewReaderSize(nc, 32<<10)}
	}
	keep, err := c.get(p.host, path, bearer, want)
	if !keep {
		_ = c.nc.Close()
		c = nil
	}
	p.conns <- c
	return err
}

// get makes one exchange on c and says whether c can carry the next.
func (c *conn) get(host, path, bearer string, want int) (bool, error) {
	c.req = append(c.req[:0], "GET "...)
	c.req = append(c.req, path...)
	c.req = append(c.req, " HTTP/1.1\r\nHost: "...)
	c.req = append(c.req, host...)
	if bearer != "" {
		c.req = append(c.req, "\r\nAuthorization: Bearer "...)
		c.req = append(c.req, bearer...)
	}
	c.req = append(c.req, "\r\n\r\n"...)
	if err := c.nc.SetDeadline(time.Now().Add(Timeout)); err != nil {
		return false, err
	}
	if _, err := c.nc.Write(c.req); err != nil {
		return false, err
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		return false, err
	}
	var head [300]byte
	n := 0
	if resp.StatusCode != want {
		n, _ = io.ReadFull(resp.Body, head[:])
	}
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return false, err
	}
	_ = resp.Body.Close()
	if resp.StatusCode != want {
		return !resp.Close, &StatusError{Path: path, Status: resp.StatusCode, Want: want, Body: string(head[:n])}
	}
	return !resp.Close, nil
}

// Close closes the idle connections; call it when no Get is running.
func (p *Pool) Close() {
	for {
		select {
		case c := <-p.conns:
			if c != nil {
				_ = c.nc.Close()
			}
		default:
			return
		}
	}
}
