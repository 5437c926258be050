package server

import "testing"

// An IPv6 client usually holds a whole /64: the throttle counts it as one address, or it
// could walk through fresh addresses for fresh allowances.
func TestAddressKey(t *testing.T) {
	for in, want := range map[string]string{
		"203.0.113.7":                  "203.0.113.7",
		"::ffff:203.0.113.7":           "203.0.113.7",
		"2001:db8:1:2:aaaa::1":         "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff:ffff:0:abc": "2001:db8:1:2::/64",
		"::1":                          "::/64",
		"not an address":               "not an address",
	} {
		if got := addressKey(in); got != want {
			t.Errorf("addressKey(%q) = %q, want %q", in, got, want)
		}
	}
}
