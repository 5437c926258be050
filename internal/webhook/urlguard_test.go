package webhook

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/headshotpro/retryd/internal/tooling/dnstest"
)

var (
	prodPolicy    = Policy{}
	devPolicy     = Policy{AllowHTTP: true, AllowLoopback: true}
	privatePolicy = Policy{AllowHTTP: true, AllowPrivate: true}
)

func TestAllowed(t *testing.T) {
	// want: allowed under production, dev (loopback) and AllowPrivate.
	type want struct{ prod, dev, private bool }
	public, loopback, private, never := want{true, true, true}, want{false, true, true}, want{false, false, true}, want{}
	for _, tc := range []struct {
		ip   string
		want want
	}{
		{"93.184.216.34", public},
		{"2606:2800:220:1:248:1893:25c8:1946", public},
		{"8.8.8.8", public},
		{"127.0.0.1", loopback},
		{"127.255.255.254", loopback},
		{"::1", loopback},
		{"::ffff:127.0.0.1", loopback},
		{"10.1.2.3", private},
		{"172.16.0.1", private},
		{"172.31.255.255", private},
		{"192.168.0.1", private},
		{"100.64.0.1", private},
		{"169.254.1.1", private},
		{"192.0.0.8", private},
		{"198.18.0.1", private},
		{"192.0.2.1", private},
		{"fe80::1", private},
		{"fe80::1%eth0", private},
		{"fc00::1", private},
		{"fd12:3456::1", private},
		{"::ffff:10.0.0.1", private},
		{"::10.0.0.1", private},
		{"64:ff9b::a00:1", private},  // NAT64 of 10.0.0.1
		{"64:ff9b::808:808", public}, // NAT64 of 8.8.8.8
		{"2002:7f00:1::1", loopback}, // 6to4 of 127.0.0.1
		{"2001:db8::1", private},
		{"169.254.169.254", never}, // metadata: refused even with AllowPrivate
		{"::ffff:169.254.169.254", never},
		{"fd00:ec2::254", never},
		{"100.100.100.200", never},
		{"169.254.170.2", never},             // ECS task credentials
		{"169.254.170.23", never},            // EKS Pod Identity
		{"fd00:ec2::23", never},              // EKS Pod Identity over IPv6
		{"168.63.129.16", never},             // Azure WireServer: public space, refused all the same
		{"::ffff:168.63.129.16", never},      // mapped
		{"64:ff9b::a83f:8110", never},        // NAT64 of the WireServer
		{"64:ff9b:1::a9fe:a9fe", never},      // local-use NAT64 of 169.254.169.254
		{"64:ff9b:1::a9fe:aa02", never},      // local-use NAT64 of 169.254.170.2
		{"64:ff9b:1:a9fe:a9:fe00::", never},  // 169.254.169.254 in the /48 layout of RFC 6052
		{"64:ff9b:1:a9:fe:a9fe::", never},    // in the /56 layout
		{"64:ff9b:1::a9:fea9:fe00:0", never}, // in the /64 layout
		{"64:ff9b:1::7f00:1", private},       // local-use NAT64 of 127.0.0.1: the prefix is the network's own, private at least
		{"64:ff9b:1::a00:1", private},        // of 10.0.0.1
		{"64:ff9b:1::808:808", private},      // of 8.8.8.8: where the network's translator sends it is its own
		{"64:ff9b:1::e000:1", never},         // of 224.0.0.1, multicast
		{"0.0.0.0", never},
		{"0.1.2.3", never},
		{"::", never},
		{"::ffff:0.0.0.0", never},
		{"255.255.255.255", never},
		{"240.0.0.1", never},
		{"224.0.0.1", never},
		{"ff02::1", never},
	} {
		ip := netip.MustParseAddr(tc.ip)
		got := want{prodPolicy.Allowed(ip), devPolicy.Allowed(ip), privatePolicy.Allowed(ip)}
		if got != tc.want {
			t.Errorf("%s: allowed (prod, dev, private) = %v, want %v", tc.ip, got, tc.want)
		}
	}
	if prodPolicy.Allowed(netip.Addr{}) || privatePolicy.Allowed(netip.Addr{}) {
		t.Errorf("the zero Addr is allowed")
	}
}

func TestCheckURL(t *testing.T) {
	dns := dnstest.Start(t, map[string][]string{
		"hooks.example.test":   {"93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"},
		"mixed.example.test":   {"93.184.216.34", "10.0.0.7"},
		"private.example.test": {"192.168.1.10"},
		"meta.example.test":    {"169.254.169.254"},
		"ecs.example.test":     {"169.254.170.2"},
		"wire.example.test":    {"168.63.129.16"},
		"loop6.example.test":   {"::1"},
		"empty.example.test":   {},
	})
	res := dns.Resolver()
	long := "https://hooks.example.test/" + strings.Repeat("a", maxURLLength)

	for _, tc := range []struct {
		policy Policy
		url    string
		code   string // "" = accepted
	}{
		{prodPolicy, "https://hooks.example.test/webhooks?token=x", ""},
		{prodPolicy, "https://HOOKS.example.test:8443/webhooks", ""},
		{prodPolicy, "https://hooks.example.test./w", ""},
		{prodPolicy, "https://93.184.216.34/w", ""},
		{prodPolicy, "https://[2606:2800:220:1:248:1893:25c8:1946]/w", ""},
		{prodPolicy, "http://hooks.example.test/w", CodeURLScheme},
		{devPolicy, "http://hooks.example.test/w", ""},
		{prodPolicy, "ftp://hooks.example.test/w", CodeURLScheme},
		{prodPolicy, "javascript:alert(1)", CodeURLScheme},
		{prodPolicy, "", CodeURLInvalid},
		{prodPolicy, "hooks.example.test/w", CodeURLInvalid},
		{prodPolicy, "/w", CodeURLInvalid},
		{prodPolicy, "https:hooks.example.test", CodeURLInvalid},
		{prodPolicy, "https:///w", CodeURLInvalid},
		{prodPolicy, "https://user:hunter2@hooks.example.test/w", CodeURLInvalid},
		{prodPolicy, "https://hooks.example.test/w#frag", CodeURLInvalid},
		{prodPolicy, "https://hooks.example.test/w#", CodeURLInvalid},
		{prodPolicy, "https://hooks.example.test:0/w", CodeURLInvalid},
		{prodPolicy, "https://hooks.example.test:65536/w", CodeURLInvalid},
		{prodPolicy, "https://hooks.example.test/a b", CodeURLInvalid},
		{prodPolicy, "https://hooks.example.test/\n", CodeURLInvalid},
		{prodPolicy, long, CodeURLInvalid},
		{prodPolicy, "https://exa mple.test/", CodeURLInvalid},
		{prodPolicy, "https://exa$mple.test/", CodeURLInvalid},
		{prodPolicy, "https://bücher.example/", CodeURLInvalid},
		{prodPolicy, "https://[fe80::1%25eth0]/w", CodeURLInvalid},
		{prodPolicy, "https://[not-v6]/w", CodeURLInvalid},
		// IPv4 in forms netip refuses but other readers take as 127.0.0.1.
		{devPolicy, "http://2130706433/", CodeURLInvalid},
		{devPolicy, "http://0x7f000001/", CodeURLInvalid},
		{devPolicy, "http://0177.0.0.1/", CodeURLInvalid},
		{devPolicy, "http://0x7f.0.0.1/", CodeURLInvalid},
		{devPolicy, "http://127.1/", CodeURLInvalid},
		{devPolicy, "http://127.0.0.1./", CodeURLInvalid},
		{devPolicy, "http://1.2.3.0x/", CodeURLInvalid},
		{prodPolicy, "https://127.0.0.1/w", CodeURLForbiddenAddress},
		{prodPolicy, "https://%31%32%37.0.0.1/w", CodeURLInvalid},
		{devPolicy, "http://127.0.0.1:8080/w", ""},
		{prodPolicy, "https://[::1]/w", CodeURLForbiddenAddress},
		{prodPolicy, "https://[::ffff:127.0.0.1]/w", CodeURLForbiddenAddress},
		{prodPolicy, "https://0.0.0.0/w", CodeURLForbiddenAddress},
		{privatePolicy, "https://0.0.0.0/w", CodeURLForbiddenAddress},
		{prodPolicy, "https://10.0.0.1/w", CodeURLForbiddenAddress},
		{devPolicy, "https://10.0.0.1/w", CodeURLForbiddenAddress},
		{privatePolicy, "https://10.0.0.1/w", ""},
		{prodPolicy, "https://169.254.169.254/latest/meta-data/", CodeURLForbiddenAddress},
		{devPolicy, "http://169.254.169.254/latest/meta-data/", CodeURLForbiddenAddress},
		{prodPolicy, "https://[fd00:ec2::254]/", CodeURLForbiddenAddress},
		{prodPolicy, "https://localhost/w", CodeURLForbiddenAddress},
		{devPolicy, "http://localhost:8080/w", ""},
		{prodPolicy, "https://mixed.example.test/w", CodeURLForbiddenAddress},
		{prodPolicy, "https://private.example.test/w", CodeURLForbiddenAddress},
		{privatePolicy, "https://private.example.test/w", ""},
		{devPolicy, "https://meta.example.test/w", CodeURLForbiddenAddress},
		{privatePolicy, "https://ecs.example.test/w", CodeURLForbiddenAddress},
		{prodPolicy, "https://wire.example.test/w", CodeURLForbiddenAddress},
		{privatePolicy, "https://168.63.129.16/w", CodeURLForbiddenAddress},
		{privatePolicy, "https://[fd00:ec2::23]/w", CodeURLForbiddenAddress},
		{privatePolicy, "https://[64:ff9b:1::a9fe:a9fe]/w", CodeURLForbiddenAddress},
		{prodPolicy, "https://loop6.example.test/w", CodeURLForbiddenAddress},
		{prodPolicy, "https://nowhere.example.test/w", CodeURLUnresolvable},
		{prodPolicy, "https://empty.example.test/w", CodeURLUnresolvable},
	} {
		u, err := tc.policy.CheckURL(t.Context(), tc.url, res)
		var ue *URLError
		switch {
		case tc.code == "" && err != nil:
			t.Errorf("%+v %q: %v, want accepted", tc.policy, tc.url, err)
		case tc.code == "" && u.String() != tc.url:
			t.Errorf("%+v %q: accepted as %q", tc.policy, tc.url, u)
		case tc.code != "" && !errors.As(err, &ue):
			t.Errorf("%+v %q: %v, want *URLError %s", tc.policy, tc.url, err, tc.code)
		case tc.code != "" && ue.Code != tc.code:
			t.Errorf("%+v %q: code %s (%s), want %s", tc.policy, tc.url, ue.Code, ue.Reason, tc.code)
		case tc.code != "" && (strings.Contains(ue.Reason, "hunter2") || strings.Contains(ue.Reason, "10.0.0.7") || ue.Reason == ""):
			t.Errorf("%q: reason %q is empty or repeats a password or a resolved address", tc.url, ue.Reason)
		}
	}
}

func TestCheckURLEndsWithContext(t *testing.T) {
	dns := dnstest.Start(t, map[string][]string{"hooks.example.test": {"93.184.216.34"}})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := prodPolicy.CheckURL(ctx, "https://hooks.example.test/w", dns.Resolver())
	var ue *URLError
	if err == nil || errors.As(err, &ue) {
		t.Fatalf("CheckURL on an ended context = %v, want the context's error, not a refusal", err)
	}
}

// dnsTimeout is what a resolver's connection says when the DNS server does not answer.
type dnsTimeout struct{}

func (dnsTimeout) Error() string   { return "i/o timeout" }
func (dnsTimeout) Timeout() bool   { return true }
func (dnsTimeout) Temporary() bool { return true }

// A lookup that fails for now (a timeout, a server failure, the lookup's deadline) is a
// *LookupError naming the host, not a refusal of the URL: the same URL may pass a moment
// later. A name that does not exist stays a refusal.
func TestCheckURLTemporaryLookupFailure(t *testing.T) {
	dns := dnstest.Start(t, nil)
	dns.Fail("servfail.example.test")
	dns.Mute("silent.example.test")
	timingOut := &net.Resolver{PreferGo: true, Dial: func(context.Context, string, string) (net.Conn, error) {
		return nil, dnsTimeout{}
	}}
	deadline := func() context.Context {
		ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
		t.Cleanup(cancel)
		return ctx
	}
	for _, tc := range []struct {
		name     string
		ctx      context.Context
		url      string
		resolver *net.Resolver
	}{
		{"resolver timed out", t.Context(), "https://hooks.example.test/w", timingOut},
		{"server failure", t.Context(), "https://servfail.example.test/w", dns.Resolver()},
		{"no answer before the lookup's deadline", deadline(), "https://silent.example.test/w", dns.Resolver()},
	} {
		_, err := prodPolicy.CheckURL(tc.ctx, tc.url, tc.resolver)
		var le *LookupError
		var ue *URLError
		switch {
		case errors.As(err, &ue):
			t.Errorf("%s: refused with %s (%s), want a *LookupError", tc.name, ue.Code, ue.Reason)
		case !errors.As(err, &le):
			t.Errorf("%s: %v, want a *LookupError", tc.name, err)
		case le.Host != strings.TrimSuffix(strings.TrimPrefix(tc.url, "https://"), "/w"):
			t.Errorf("%s: host %q", tc.name, le.Host)
		}
	}
	_, err := prodPolicy.CheckURL(t.Context(), "https://nowhere.example.test/w", dns.Resolver())
	if ue := (*URLError)(nil); !errors.As(err, &ue) || ue.Code != CodeURLUnresolvable {
		t.Errorf("a name that does not exist: %v, want %s", err, CodeURLUnresolvable)
	}
}

// The dialer judges the address actually connected to: a URL that passed CheckURL
// (or never went through it) cannot reach a refused address, and the refusal comes out
// of http.Client recognizable.
func TestDialContextRefusesAtConnect(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	t.Cleanup(srv.Close)

	client := func(p Policy) *http.Client {
		return &http.Client{Transport: &http.Transport{DialContext: p.DialContext(5 * time.Second)}}
	}
	_, err := client(Policy{AllowHTTP: true}).Get(srv.URL + "/w?token=s3cret")
	var ue *URLError
	if !errors.As(err, &ue) || ue.Code != CodeURLForbiddenAddress {
		t.Fatalf("GET %s under a policy without loopback: %v, want a *URLError %s", srv.URL, err, CodeURLForbiddenAddress)
	}
	if hits.Load() != 0 {
		t.Fatalf("the refused request reached the server")
	}

	resp, err := client(devPolicy).Get(srv.URL + "/w")
	if err != nil {
		t.Fatalf("GET under AllowLoopback: %v", err)
	}
	resp.Body.Close()
	if n := hits.Load(); n != 1 {
		t.Fatalf("server saw %d requests, want 1", n)
	}
}
