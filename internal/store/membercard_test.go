package store

import (
	"testing"

	"github.com/google/uuid"
)

// uuidBefore must borrow across bytes as Postgres orders uuids (bytewise), or the page
// of one that MemberCard reads would start after the member.
func TestUUIDBefore(t *testing.T) {
	for in, want := range map[string]string{
		"00000000-0000-0000-0000-000000000002": "00000000-0000-0000-0000-000000000001",
		"00000000-0000-0000-0001-000000000000": "00000000-0000-0000-0000-ffffffffffff",
		"9fce81e8-1c6a-42c2-a664-35955d860f00": "9fce81e8-1c6a-42c2-a664-35955d860eff",
	} {
		if got := uuidBefore(uuid.MustParse(in)).String(); got != want {
			t.Errorf("uuidBefore(%s) = %s, want %s", in, got, want)
		}
	}
}
