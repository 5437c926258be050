package webhook

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Policy says which webhook URLs and addresses retryd may call. The zero Policy is the
// production one: https only, and only addresses on the public internet.
//
// Development sets AllowHTTP and AllowLoopback, so a receiver on the developer's machine
// works. AllowPrivate (WEBHOOK_ALLOW_PRIVATE=on) is for self-hosted installs whose
// receivers live on the same private network: it allows loopback, RFC 1918, CGNAT,
// link-local, unique-local and the other non-public unicast ranges. The cloud metadata
// and credential endpoints (169.254.169.254 and the others in metadataAddrs, the Azure
// WireServer's public 168.63.129.16 among them) stay refused under every policy: no
// receiver lives there, and an admin who could aim a webhook at one could read the
// host's cloud credentials. Unspecified, multicast, broadcast and reserved
// addresses are never allowed either: nothing that receives webhooks lives there, and
// 0.0.0.0 reaches the local host.
type Policy struct {
	AllowHTTP     bool
	AllowLoopback bool
	AllowPrivate  bool
}

// Stable codes of URLError. Clients switch on them; never rename one.
const (
	CodeURLInvalid          = "webhook_url_invalid"
	CodeURLScheme           = "webhook_url_scheme"
	CodeURLForbiddenAddress = "webhook_url_forbidden_address"
	CodeURLUnresolvable     = "webhook_url_unresolvable"
)

// LookupError says the URL's host could not be resolved right now: the lookup timed
// out, the resolver called its failure temporary, or ctx ended first. It judges the DNS,
// not the URL, which may pass a moment later; Err is the resolver's or ctx's error.
type LookupError struct {
	Host string
	Err  error
}

func (e *LookupError) Error() string {
	return fmt.Sprintf("webhook: resolving the URL's host %s: %v", e.Host, e.Err)
}

func (e *LookupError) Unwrap() error { return e.Err }

// maxURLLength bounds a webhook URL; longer ones are refused rather than stored.
const maxURLLength = 2048

// URLError says why a webhook URL or the address it reached is refused. Code is one of
// the CodeURL constants; Reason is a sentence for the admin who entered the URL. Neither
// ever repeats the URL's user name, password or query, which may carry credentials.
type URLError struct {
	Code   string
	Reason string
}

func (e *URLError) Error() string { return e.Reason }

func urlErr(code, format string, args ...any) *URLError {
	return &URLError{Code: code, Reason: fmt.Sprintf(format, args...)}
}

// addrClass groups addresses by the Policy switch that allows them. The classes run
// from the least restrictive to the most: fewer policies allow each than the one before.
type addrClass int

const (
	classPublic addrClass = iota
	classLoopback
	classPrivate
	classMetadata
	classNever
)

func (c addrClass) String() string {
	switch c {
	case classPublic:
		return "a public address"
	case classLoopback:
		return "a loopback address"
	case classPrivate:
		return "a private or link-local network address"
	case classMetadata:
		return "a cloud metadata address"
	default:
		return "an unspecified, multicast, broadcast or reserved address"
	}
}

func prefixes(ss ...string) []netip.Prefix {
	ps := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		ps[i] = netip.MustParsePrefix(s)
	}
	return ps
}

var (
	metadataAddrs = []netip.Addr{
		netip.MustParseAddr("169.254.169.254"), // AWS, GCP, Azure, Oracle, DigitalOcean
		netip.MustParseAddr("fd00:ec2::254"),   // AWS over IPv6
		netip.MustParseAddr("169.254.170.2"),   // AWS ECS task credentials
		netip.MustParseAddr("169.254.170.23"),  // AWS EKS Pod Identity
		netip.MustParseAddr("fd00:ec2::23"),    // AWS EKS Pod Identity over IPv6
		netip.MustParseAddr("100.100.100.200"), // Alibaba Cloud
		netip.MustParseAddr("168.63.129.16"),   // Azure WireServer, in public space
	}
	neverPrefixes = prefixes(
		"0.0.0.0/8",   // "this network"; connecting to 0.0.0.0 reaches the local host
		"224.0.0.0/4", // multicast
		"240.0.0.0/4", // reserved, with the broadcast address 255.255.255.255
		"::/128",      // unspecified
		"ff00::/8",    // multicast
		"100::/64",    // discard-only
	)
	loopbackPrefixes = prefixes("127.0.0.0/8", "::1/128")
	// ::/96 below also holds :: and ::1; classify checks the lists above first.
	privatePrefixes = prefixes(
		"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", // RFC 1918
		"100.64.0.0/10",                                     // CGNAT
		"169.254.0.0/16",                                    // link-local
		"192.0.0.0/24",                                      // IETF protocol assignments
		"198.18.0.0/15",                                     // benchmarking
		"192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", // documentation
		"::/96",         // IPv4-compatible IPv6, deprecated
		"fe80::/10",     // link-local
		"fec0::/10",     // site-local, deprecated
		"fc00::/7",      // unique local
		"2001:db8::/32", // documentation
		"2001::/32",     // Teredo: a tunnel whose far end this check cannot see
	)
	nat64Prefix = netip.MustParsePrefix("64:ff9b::/96")
	localNAT64  = netip.MustParsePrefix("64:ff9b:1::/48") // RFC 8215
	sixToFour   = netip.MustParsePrefix("2002::/16")
)

func inAny(ip netip.Addr, ps []netip.Prefix) bool {
	for _, p := range ps {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// classify puts an address in the most restrictive class that holds it. IPv6 forms
// that carry an IPv4 address (mapped, NAT64 and local-use NAT64, 6to4) are judged by
// that address, since that is where the packets end up.
func classify(ip netip.Addr) addrClass {
	// Prefix.Contains never matches an address with a zone.
	ip = ip.WithZone("").Unmap()
	if !ip.IsValid() {
		return classNever
	}
	for _, m := range metadataAddrs {
		if ip == m {
			return classMetadata
		}
	}
	switch {
	case inAny(ip, neverPrefixes):
		return classNever
	case inAny(ip, loopbackPrefixes):
		return classLoopback
	case nat64Prefix.Contains(ip):
		b := ip.As16()
		return classify(netip.AddrFrom4([4]byte(b[12:16])))
	case localNAT64.Contains(ip):
		return classifyLocalNAT64(ip)
	case sixToFour.Contains(ip):
		b := ip.As16()
		return classify(netip.AddrFrom4([4]byte(b[2:6])))
	case inAny(ip, privatePrefixes):
		return classPrivate
	}
	return classPublic
}

// classifyLocalNAT64 judges an address of the local-use NAT64 prefix. Each network
// carves its own prefix out of the /48, so where the IPv4 address sits is the network's
// choice (RFC 6052: after a /48, /56, /64 or /96 prefix): the address is metadata if any
// of those readings is, else judged by the /96 reading, the common one, and never as
// less than private, since what the translator makes of it is the network's own.
func classifyLocalNAT64(ip netip.Addr) addrClass {
	b := ip.As16()
	for _, v4 := range [][4]byte{{b[6], b[7], b[9], b[10]}, {b[7], b[9], b[10], b[11]}, {b[9], b[10], b[11], b[12]}} {
		if classify(netip.AddrFrom4(v4)) == classMetadata {
			return classMetadata
		}
	}
	return max(classPrivate, classify(netip.AddrFrom4([4]byte(b[12:16]))))
}

// Allowed reports whether webhooks may connect to ip under the policy.
func (p Policy) Allowed(ip netip.Addr) bool {
	switch classify(ip) {
	case classPublic:
		return true
	case classLoopback:
		return p.AllowLoopback || p.AllowPrivate
	case classPrivate:
		return p.AllowPrivate
	default:
		return false
	}
}

// CheckURL validates a webhook URL when an admin sets it: an absolute http(s) URL of at
// most 2048 characters with a host, no user name or password and no fragment; https
// unless the policy allows http; and a host whose every address the policy allows. Every
// address, not just one: the sender may connect to any of them. Host names are resolved
// with resolver (net.DefaultResolver when nil). Passing the check says nothing about
// later deliveries, since DNS can change; DialContext guards those.
//
// Refusals are *URLError; a host DNS says does not exist, or has no addresses, is one.
// A lookup that fails for now (it timed out, the resolver calls the failure temporary,
// or ctx ended first) is a *LookupError: it says nothing of the URL, which may pass a
// moment later.
func (p Policy) CheckURL(ctx context.Context, raw string, resolver *net.Resolver) (*url.URL, error) {
	u, literal, err := p.parse(raw)
	if err != nil {
		return nil, err
	}
	if literal.IsValid() {
		if !p.Allowed(literal) {
			return nil, urlErr(CodeURLForbiddenAddress, "the webhook URL's address %s is %s, which webhooks may not reach", literal, classify(literal))
		}
		return u, nil
	}
	if resolver == nil {
		resolver = net.DefaultResolver
	}
	host := u.Hostname()
	addrs, err := resolver.LookupNetIP(ctx, "ip", host)
	if ctxErr := ctx.Err(); ctxErr != nil {
		return nil, &LookupError{Host: host, Err: ctxErr}
	}
	if err != nil {
		// The DNSError names the resolver's own address; the admin gets only the gist.
		var dnsErr *net.DNSError
		switch {
		case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
			return nil, urlErr(CodeURLUnresolvable, "the webhook URL's host %s does not exist in DNS", host)
		case errors.As(err, &dnsErr) && (dnsErr.IsTimeout || dnsErr.IsTemporary):
			return nil, &LookupError{Host: host, Err: err}
		default:
			return nil, urlErr(CodeURLUnresolvable, "looking up the webhook URL's host %s in DNS failed", host)
		}
	}
	if len(addrs) == 0 {
		return nil, urlErr(CodeURLUnresolvable, "the webhook URL's host %s has no addresses in DNS", host)
	}
	for _, a := range addrs {
		// The address itself stays out of the message: echoing it would let an admin
		// map names of the private network to addresses.
		if !p.Allowed(a) {
			return nil, urlErr(CodeURLForbiddenAddress, "the webhook URL's host %s resolves to %s, which webhooks may not reach", host, classify(a))
		}
	}
	return u, nil
}

// parse checks everything about a webhook URL that needs no DNS. When the host is an IP
// literal it is returned too; the caller still has to judge it.
func (p Policy) parse(raw string) (*url.URL, netip.Addr, error) {
	var none netip.Addr
	switch {
	case raw == "":
		return nil, none, urlErr(CodeURLInvalid, "the webhook URL is empty")
	case len(raw) > maxURLLength:
		return nil, none, urlErr(CodeURLInvalid, "the webhook URL is longer than %d characters", maxURLLength)
	case strings.ContainsFunc(raw, func(r rune) bool { return r <= ' ' || r == 0x7f }):
		return nil, none, urlErr(CodeURLInvalid, "the webhook URL contains spaces or control characters")
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url.Parse's error quotes the URL, password and all.
		return nil, none, urlErr(CodeURLInvalid, "the webhook URL is not a valid URL")
	}
	if u.Scheme == "" {
		return nil, none, urlErr(CodeURLInvalid, "the webhook URL must be absolute, like https://example.com/webhooks")
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !p.AllowHTTP {
			return nil, none, urlErr(CodeURLScheme, "the webhook URL must use https, not http")
		}
	default:
		return nil, none, urlErr(CodeURLScheme, "the webhook URL must use https, not %s", u.Scheme)
	}
	if u.Opaque != "" {
		return nil, none, urlErr(CodeURLInvalid, "the webhook URL must be absolute, like https://example.com/webhooks")
	}
	if u.User != nil {
		return nil, none, urlErr(CodeURLInvalid, "the webhook URL must not contain a user name or password; receivers authenticate retryd by the webhook signature")
	}
	if strings.Contains(raw, "#") {
		return nil, none, urlErr(CodeURLInvalid, "the webhook URL must not contain a fragment (#...)")
	}
	host := u.Hostname()
	if host == "" {
		return nil, none, urlErr(CodeURLInvalid, "the webhook URL must name a host")
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return nil, none, urlErr(CodeURLInvalid, "the webhook URL's port must be between 1 and 65535")
		}
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if ip.Zone() != "" {
			return nil, none, urlErr(CodeURLInvalid, "the webhook URL's IPv6 address must not name a zone")
		}
		return u, ip, nil
	}
	if strings.HasPrefix(u.Host, "[") {
		return nil, none, urlErr(CodeURLInvalid, "the webhook URL's host %s is not a valid IPv6 address", host)
	}
	if err := checkHostName(host); err != nil {
		return nil, none, err
	}
	return u, none, nil
}

// checkHostName accepts DNS names in ASCII. A name whose last label is a number is an
// IPv4 address in a form netip does not read (127.1, 2130706433, 0x7f.0.0.1, 0177.0.0.1)
// but that browsers, curl or the C resolver read as an address: refused, since what it
// reaches depends on who reads it.
func checkHostName(host string) error {
	name := strings.TrimSuffix(host, ".")
	if name == "" || len(name) > 253 {
		return urlErr(CodeURLInvalid, "the webhook URL's host name is not valid")
	}
	labels := strings.Split(name, ".")
	if numericLabel(labels[len(labels)-1]) {
		return urlErr(CodeURLInvalid, "the webhook URL's host %s is not a valid IP address; write IPv4 addresses as four decimal numbers, like 192.0.2.1", host)
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 {
			return urlErr(CodeURLInvalid, "the webhook URL's host name %s is not valid", host)
		}
		for _, r := range l {
			switch {
			case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			case r > 0x7f:
				return urlErr(CodeURLInvalid, "the webhook URL's host name must be in ASCII; write international names in their xn-- form")
			default:
				return urlErr(CodeURLInvalid, "the webhook URL's host name %s is not valid", host)
			}
		}
	}
	return nil
}

// numericLabel reports whether a label is a number in the WHATWG URL sense: decimal
// digits, or 0x followed by hex digits (possibly none).
func numericLabel(l string) bool {
	if h, ok := strings.CutPrefix(strings.ToLower(l), "0x"); ok {
		return strings.Trim(h, "0123456789abcdef") == ""
	}
	return l != "" && strings.Trim(l, "0123456789") == ""
}

// DialContext returns a dial function for http.Transport that connects only to
// addresses the policy allows. The check runs on the address actually being connected
// to, after DNS, so a name that passed CheckURL and later resolves somewhere refused
// (DNS rebinding) is still refused. A refusal is a *URLError with
// CodeURLForbiddenAddress, which errors.As finds through net and net/http's wrapping.
func (p Policy) DialContext(timeout time.Duration) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return p.dialer(timeout, nil).DialContext
}

func (p Policy) dialer(timeout time.Duration, resolver *net.Resolver) *net.Dialer {
	return &net.Dialer{
		Timeout:   timeout,
		KeepAlive: 30 * time.Second,
		Resolver:  resolver,
		ControlContext: func(_ context.Context, _, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return urlErr(CodeURLForbiddenAddress, "refused to connect to an address that could not be checked")
			}
			if !p.Allowed(ap.Addr()) {
				return urlErr(CodeURLForbiddenAddress, "refused to connect: the webhook URL's host resolves to %s, which webhooks may not reach", classify(ap.Addr()))
			}
			return nil
		},
	}
}
