package server

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// The dashboard is the API's hottest read: a page of up to 100 cards, each a few nested
// objects. encoding/json spent about a third of the API's own CPU on it, walking the
// same types by reflection on every request, so the page is written by hand here.
// The bytes are exactly what json.Marshal writes for the same values (escaping, field
// order, omitempty, times); dashboard_json_test.go holds it to that on generated and
// fuzzed pages. A field added to these types must be added here, or that test fails,
// and to openapi.json, or card_schema_test.go fails.

// appendSection appends page as json.Marshal would write it.
func appendSection(b []byte, page *sectionDTO) []byte {
	b = append(b, '{')
	if page.Section != "" {
		b = append(b, `"section":`...)
		b = appendJSONString(b, page.Section)
		b = append(b, ',')
	}
	b = append(b, `"cards":`...)
	if page.Cards == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range page.Cards {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendCard(b, &page.Cards[i])
		}
		b = append(b, ']')
	}
	b = append(b, `,"next_cursor":`...)
	b = appendJSONStringPtr(b, page.NextCursor)
	b = append(b, `,"prev_cursor":`...)
	b = appendJSONStringPtr(b, page.PrevCursor)
	return append(b, '}')
}

// appendSections appends the first page of each section, keyed by section name in the
// sorted order json.Marshal gives a map.
func appendSections(b []byte, names []string, pages map[string]sectionDTO) []byte {
	b = append(b, `{"sections":{`...)
	for i, name := range names {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, name)
		b = append(b, ':')
		page := pages[name]
		b = appendSection(b, &page)
	}
	return append(b, "}}"...)
}

func appendCard(b []byte, c *cardDTO) []byte {
	b = append(b, `{"member":{"id":`...)
	b = appendJSONString(b, c.Member.ID)
	b = append(b, `,"name":`...)
	b = appendJSONString(b, c.Member.Name)
	b = append(b, `,"email":`...)
	b = appendJSONStringPtr(b, c.Member.Email)
	b = append(b, `,"kind":`...)
	b = appendJSONString(b, c.Member.Kind)
	b = append(b, `},"shoot":`...)
	b = appendShoot(b, &c.Shoot)
	b = append(b, `,"retry":{"retries_remaining":`...)
	b = strconv.AppendInt(b, int64(c.Retry.RetriesRemaining), 10)
	b = append(b, `,"pending":`...)
	b = strconv.AppendBool(b, c.Retry.Pending)
	b = append(b, `},"actions":`...)
	if c.Actions == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, a := range c.Actions {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, a)
		}
		b = append(b, ']')
	}
	b = append(b, `,"section":`...)
	b = appendJSONString(b, c.Section)
	return append(b, '}')
}

func appendShoot(b []byte, s *shootDTO) []byte {
	b = append(b, `{"id":`...)
	b = appendJSONString(b, s.ID)
	if s.MemberID != "" {
		b = append(b, `,"member_id":`...)
		b = appendJSONString(b, s.MemberID)
	}
	b = append(b, `,"status":`...)
	b = appendJSONString(b, s.Status)
	b = append(b, `,"completed_at":`...)
	b = appendJSONTime(b, s.CompletedAt)
	b = append(b, `,"deleted_at":`...)
	b = appendJSONTime(b, s.DeletedAt)
	b = append(b, `,"retry_count":`...)
	b = strconv.AppendInt(b, int64(s.RetryCount), 10)
	b = append(b, `,"result_count":`...)
	b = strconv.AppendInt(b, int64(s.ResultCount), 10)
	if s.NextSubmissionFree != nil {
		b = append(b, `,"next_submission_free":`...)
		b = strconv.AppendBool(b, *s.NextSubmissionFree)
	}
	if s.CreatedAt != nil {
		b = append(b, `,"created_at":`...)
		b = appendJSONTime(b, s.CreatedAt)
	}
	return append(b, '}')
}

// appendJSONTime writes a time as time.Time's MarshalJSON does. Times come from Postgres
// timestamps, whose years lie within the range MarshalJSON accepts.
func appendJSONTime(b []byte, t *time.Time) []byte {
	if t == nil {
		return append(b, "null"...)
	}
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

func appendJSONStringPtr(b []byte, s *string) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	return appendJSONString(b, *s)
}

const hexDigits = "0123456789abcdef"

// appendJSONString quotes s as encoding/json does by default: HTML-safe (<, > and & as
// \u escapes), invalid UTF-8 as U+FFFD, and U+2028 and U+2029 escaped for JavaScript.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
