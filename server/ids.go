package server

import "github.com/google/uuid"

// canonicalUUID accepts an id only in the 36-character hyphenated form and returns it as
// Postgres prints it (lower case). uuid.Parse alone is not enough: it also takes
// urn:uuid:, braced and undashed spellings, and Postgres refuses urn:uuid:, so such an id
// would reach a query and fail there as a server error instead of a refusal.
func canonicalUUID(v string) (string, bool) {
	if len(v) != 36 {
		return "", false
	}
	u, err := uuid.Parse(v)
	if err != nil {
		return "", false
	}
	return u.String(), true
}
