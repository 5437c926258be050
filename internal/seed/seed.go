// Package seed reads a seed file (organizations with their admins, API keys, members,
// shoots and results; the format is in docs/product.md) and loads it into Postgres
// idempotently, in bulk, so an organization of 10,000 members loads in seconds.
package seed

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/mail"
	"strings"
	"time"
	"unicode"

	"github.com/google/uuid"

	"github.com/headshotpro/retryd/internal/apikey"
	"github.com/headshotpro/retryd/internal/domain"
)

// File is the whole seed file.
type File struct {
	Organizations []Organization `json:"organizations"`

	// demo marks the built-in demo file, the one file whose two published keys may be
	// shorter than generated keys (see Demo).
	demo bool
}

type Organization struct {
	// ID, like every id in the file, may be omitted; Load then derives one from stable
	// parts of the file (see ids.go), the same on every run, and reports it.
	ID             string   `json:"id,omitempty"`
	Name           string   `json:"name"`
	CreditBalance  int      `json:"credit_balance"`
	Admins         []Admin  `json:"admins"`
	AutomationKeys []string `json:"automation_keys"`
	Members        []Member `json:"members"`
}

type Admin struct {
	ID    string `json:"id,omitempty"`
	Email string `json:"email"`
	Name  string `json:"name"`
	Role  string `json:"role"`
	// APIKey is optional: an admin without one exists as an audit actor but cannot call
	// the API until a key is issued.
	APIKey string `json:"api_key,omitempty"`
}

type Member struct {
	ID           string  `json:"id,omitempty"`
	Name         string  `json:"name"`
	Email        *string `json:"email"`
	Kind         string  `json:"kind"`
	RetryCredits int     `json:"retry_credits"`
	// FreeRetryAvailable is a pointer because an omitted value means true: "each member
	// is entitled to one free retry".
	FreeRetryAvailable *bool   `json:"free_retry_available"`
	Shoots             []Shoot `json:"shoots"`
}

type Shoot struct {
	ID          string     `json:"id,omitempty"`
	Status      string     `json:"status"`
	CompletedAt *time.Time `json:"completed_at"`
	DeletedAt   *time.Time `json:"deleted_at"`
	RetryCount  int        `json:"retry_count"`
	// Results is how many result rows to create for the shoot.
	Results int `json:"results"`
}

// MaxResultsPerShoot bounds a typo (an extra zero or three) before it becomes millions
// of rows; real shoots have a few hundred photos at most.
const MaxResultsPerShoot = 1000

// maxReported keeps the error of a broken 10,000-member file readable.
const maxReported = 20

var shootStatuses = []string{
	domain.ShootOnboarding, domain.ShootWaiting, domain.ShootPending, domain.ShootGeneratingHeadshots,
	domain.ShootActive, domain.ShootFailed, domain.ShootDeleted,
}

// ValidationError is one problem of a seed file, at a path such as
// organizations[0].members[3].kind.
type ValidationError struct {
	Path    string
	Message string
}

func (e *ValidationError) Error() string { return e.Path + ": " + e.Message }

// Parse reads a seed file strictly (unknown fields, wrong types, trailing data and bad
// timestamps are errors naming where they are) and validates it.
func Parse(r io.Reader) (*File, error) { return parse(r, false) }

func parse(r io.Reader, demo bool) (*File, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read seed file: %w", err)
	}
	// A first pass over the generic value names the path of unknown fields, wrong types
	// and bad timestamps, which encoding/json reports without one.
	var generic any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&generic); err != nil {
		return nil, jsonError(data, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("seed file: unexpected data after the top-level object at %s", position(data, dec.InputOffset()))
	}
	if err := checkShape(generic, fileType, ""); err != nil {
		return nil, err
	}

	var f File
	dec = json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, jsonError(data, err)
	}
	f.demo = demo
	if err := f.Validate(); err != nil {
		return nil, err
	}
	return &f, nil
}

func jsonError(data []byte, err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return fmt.Errorf("seed file: invalid JSON at %s: %w", position(data, syntax.Offset), err)
	case errors.As(err, &typ):
		return fmt.Errorf("seed file: at %s: %w", position(data, typ.Offset), err)
	case errors.Is(err, io.EOF):
		return errors.New("seed file: empty")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("seed file: invalid JSON: unexpected end of file")
	}
	return fmt.Errorf("seed file: %w", err)
}

// position names the byte just before offset: encoding/json's offsets count the
// offending byte as read.
func position(data []byte, offset int64) string {
	offset = min(max(offset-1, 0), int64(len(data)))
	before := data[:offset]
	line := bytes.Count(before, []byte("\n")) + 1
	col := len(before) - bytes.LastIndexByte(before, '\n')
	return fmt.Sprintf("line %d, column %d", line, col)
}

// Validate checks what the database would reject, or accept and get wrong, and names the
// path of each problem. It reports up to 20 problems at once.
func (f *File) Validate() error {
	v := &validator{
		orgIDs:    map[string]string{},
		adminIDs:  map[string]string{},
		memberIDs: map[string]string{},
		shootIDs:  map[string]string{},
		keys:      map[string]string{},
		demo:      f.demo,
	}
	if len(f.Organizations) == 0 {
		v.add("organizations", "must list at least one organization")
	}
	for i := range f.Organizations {
		v.org(fmt.Sprintf("organizations[%d]", i), &f.Organizations[i])
	}
	return v.err()
}

type validator struct {
	errs    []error
	dropped int
	// Ids and keys must be unique across the whole file: a repeated one would silently
	// attach rows to another organization's or member's row. Derived ids count too: two
	// organizations of the same name without ids would otherwise become one.
	orgIDs, adminIDs, memberIDs, shootIDs, keys map[string]string
	demo                                        bool
}

func (v *validator) add(path, format string, args ...any) {
	if len(v.errs) >= maxReported {
		v.dropped++
		return
	}
	v.errs = append(v.errs, &ValidationError{Path: path, Message: fmt.Sprintf(format, args...)})
}

func (v *validator) err() error {
	if len(v.errs) == 0 {
		return nil
	}
	errs := v.errs
	if v.dropped > 0 {
		errs = append(errs[:len(errs):len(errs)], fmt.Errorf("… and %d more problems", v.dropped))
	}
	return errors.Join(errs...)
}

func (v *validator) org(p string, o *Organization) {
	orgID := v.id(p+".id", o.ID, func() string { return derivedOrgID(o.Name) }, "the name", v.orgIDs)
	v.name(p+".name", o.Name)
	v.count(p+".credit_balance", o.CreditBalance, math.MaxInt32)
	for i := range o.Admins {
		a := &o.Admins[i]
		ap := fmt.Sprintf("%s.admins[%d]", p, i)
		v.id(ap+".id", a.ID, deriveIf(orgID, func() string { return derivedAdminID(orgID, a.Email) }), "the organization and email", v.adminIDs)
		v.name(ap+".name", a.Name)
		v.email(ap+".email", a.Email)
		if a.Role != "owner" && a.Role != "admin" {
			v.add(ap+".role", `must be "owner" or "admin", got %q`, a.Role)
		}
		if a.APIKey != "" {
			v.key(ap+".api_key", a.APIKey, fmt.Sprintf("admin %s of organization %q", a.Email, o.Name))
		}
	}
	for i, k := range o.AutomationKeys {
		v.key(fmt.Sprintf("%s.automation_keys[%d]", p, i), k, fmt.Sprintf("organization %q", o.Name))
	}
	for i := range o.Members {
		v.member(fmt.Sprintf("%s.members[%d]", p, i), orgID, i, &o.Members[i])
	}
}

func (v *validator) member(p, orgID string, index int, m *Member) {
	memberID := v.id(p+".id", m.ID, deriveIf(orgID, func() string { return derivedMemberID(orgID, m, index) }), memberIDSource(m), v.memberIDs)
	v.name(p+".name", m.Name)
	switch m.Kind {
	case domain.KindIndividual:
		if m.Email == nil {
			// Individual members have their own account, so they have an address.
			v.add(p+".email", "an individual member needs an email")
		}
	case domain.KindManaged:
	default:
		v.add(p+".kind", `must be "individual" or "managed", got %q`, m.Kind)
	}
	if m.Email != nil {
		v.email(p+".email", *m.Email)
	}
	v.count(p+".retry_credits", m.RetryCredits, math.MaxInt32)
	for i := range m.Shoots {
		v.shoot(fmt.Sprintf("%s.shoots[%d]", p, i), &m.Shoots[i], deriveIf(memberID, func() string { return derivedShootID(memberID, i) }))
	}
}

func (v *validator) shoot(p string, s *Shoot, derive func() string) {
	v.id(p+".id", s.ID, derive, "the member and position", v.shootIDs)
	known := false
	for _, st := range shootStatuses {
		known = known || s.Status == st
	}
	if !known {
		v.add(p+".status", "must be one of %s, got %q", strings.Join(shootStatuses, ", "), s.Status)
	}
	if s.Status == domain.ShootActive && s.CompletedAt == nil {
		v.add(p+".completed_at", "an active (finished) shoot needs completed_at")
	}
	v.count(p+".retry_count", s.RetryCount, math.MaxInt32)
	v.count(p+".results", s.Results, MaxResultsPerShoot)
}

// id checks a row's id, given or derived (from says from what), and returns it in
// canonical form. It returns "" when the id is no UUID or repeats another, and derive is
// nil when the parent's id is "": the ids derived from it would only repeat the problem.
func (v *validator) id(p, id string, derive func() string, from string, seen map[string]string) string {
	if id == "" {
		if derive == nil {
			return ""
		}
		key := derive()
		if first, dup := seen[key]; dup {
			v.add(p, "is left out, and the id derived from %s (%s) is that of %s: give this row an id", from, key, first)
			return ""
		}
		seen[key] = p
		return key
	}
	// Only the canonical form: uuid.Parse also takes braces, urn: and undashed forms,
	// which would make the "same id" check below miss duplicates.
	u, err := uuid.Parse(id)
	if err != nil || len(id) != 36 {
		v.add(p, "must be a UUID like 3f2b8c1e-5d4a-4e6f-9a7b-1c2d3e4f5a6b, got %q", id)
		return ""
	}
	key := u.String()
	if first, dup := seen[key]; dup {
		v.add(p, "duplicates %s (%s)", first, id)
		return ""
	}
	seen[key] = p
	return key
}

// deriveIf is derive, or nil when the parent has no usable id.
func deriveIf(parentID string, derive func() string) func() string {
	if parentID == "" {
		return nil
	}
	return derive
}

func (v *validator) name(p, s string) {
	if strings.TrimSpace(s) == "" {
		v.add(p, "must not be empty")
	}
}

func (v *validator) email(p, s string) {
	if s == "" {
		v.add(p, "must not be empty")
		return
	}
	if a, err := mail.ParseAddress(s); err != nil || a.Address != s {
		v.add(p, "must be a plain email address like ada@acme.test, got %q", s)
	}
}

func (v *validator) count(p string, n, max int) {
	switch {
	case n < 0:
		v.add(p, "must not be negative, got %d", n)
	case n > max:
		v.add(p, "must be at most %d, got %d", max, n)
	}
}

// key checks one API key; whose names its holder for an error, which never shows the key.
func (v *validator) key(p, k, whose string) {
	switch {
	case k == "":
		v.add(p, "must not be empty")
		return
	case strings.IndexFunc(k, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		// It could never be sent in an Authorization header as is.
		v.add(p, "must not contain spaces or control characters")
		return
	case len(k) < apikey.GeneratedLen && !(v.demo && isDemoKey(k)):
		// A short key is easier to guess than the keys retryd makes, and the API's
		// throttle of failed keys assumes keys that cannot be guessed at all.
		v.add(p, "the key of %s is shorter than the %d characters of a generated key; make one with: echo rk_$(openssl rand -base64 32 | tr '+/' '-_' | tr -d '='), or issue keys later with `retryd keys create`", whose, apikey.GeneratedLen)
		return
	}
	if first, dup := v.keys[k]; dup {
		v.add(p, "repeats the key of %s", first)
		return
	}
	v.keys[k] = p
}
