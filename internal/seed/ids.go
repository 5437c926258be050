package seed

import (
	"strconv"
	"strings"

	"github.com/google/uuid"
)

// IDNamespace is the UUID namespace of the ids derived for rows the file gives none
// (UUID version 5). It is fixed for good: another namespace would give every id-less row
// a new id, and the next run of an unchanged file would insert it again.
const IDNamespace = "7c1e4f0a-3b9d-4e26-a5c8-0d2f6b8e1a93"

var idNamespace = uuid.MustParse(IDNamespace)

// The derived ids depend only on stable parts of the file, so loading the same file twice
// derives the same ids and the second run finds every row already there:
//
//	organization  its name
//	admin         organization id + email
//	member        organization id + email, or without one: name + its index among the
//	              organization's members
//	shoot         member id + its index among the member's shoots
//
// The organization and member ids are the ones the rows end up with, given or derived,
// so copying a printed id into the file changes none of the ids derived below it.
// Emails compare case-insensitively, as the service's address lookups do.
//
// Parts are joined with NUL, which only names contain, and every name comes last, so
// two different sets of parts never hash the same string.

func derive(parts ...string) string {
	return uuid.NewSHA1(idNamespace, []byte(strings.Join(parts, "\x00"))).String()
}

func derivedOrgID(name string) string { return derive("organization", name) }

func derivedAdminID(orgID, email string) string {
	return derive("admin", orgID, strings.ToLower(email))
}

func derivedMemberID(orgID string, m *Member, index int) string {
	if m.Email != nil {
		return derive("member", orgID, "email", strings.ToLower(*m.Email))
	}
	return derive("member", orgID, "name", strconv.Itoa(index), m.Name)
}

func derivedShootID(memberID string, index int) string {
	return derive("shoot", memberID, strconv.Itoa(index))
}

// memberIDSource says what a member's derived id comes from, for error messages.
func memberIDSource(m *Member) string {
	if m.Email != nil {
		return "the organization and email"
	}
	return "the organization, name and position"
}
