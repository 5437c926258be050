package devmailbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/mail"
	"strings"
	"time"
)

const (
	// maxBodyBytes bounds what one request may make us buffer; the service only
	// sends text and HTML bodies of a few kilobytes.
	maxBodyBytes = 1 << 20

	// Limits MailerSend enforces on POST /v1/email; mirrored so a message that
	// passes here does not fail for the same reason in production.
	maxRecipients = 50
	maxTags       = 5
	maxSubjectLen = 998

	emailPath = "/v1/email"
)

// Handler serves MailerSend's POST /v1/email. It matches any path ending in
// /v1/email, so it works both behind http.StripPrefix("/dev/mailersend", h) and
// mounted directly; every other path answers 404 with a MailerSend-style JSON
// body.
func (m *Mailbox) Handler() http.Handler {
	return http.HandlerFunc(m.serveHTTP)
}

// recipient and sendRequest decode only the fields the endpoint checks or
// keeps; mailersend-go also sends reply_to, variables, personalization,
// headers, settings and friends, which are accepted and ignored like
// MailerSend ignores empty ones.
type recipient struct {
	Email string `json:"email"`
	Name  string `json:"name"`
}

type sendRequest struct {
	From    *recipient  `json:"from"`
	To      []recipient `json:"to"`
	Subject string      `json:"subject"`
	Text    string      `json:"text"`
	HTML    string      `json:"html"`
	Tags    []string    `json:"tags"`
}

func (m *Mailbox) serveHTTP(w http.ResponseWriter, r *http.Request) {
	// Order follows MailerSend (a Laravel app): routing, then authentication,
	// then the request body, so clients see the same error for the same mistake.
	if !strings.HasSuffix(r.URL.Path, emailPath) {
		writeJSON(w, http.StatusNotFound, map[string]any{
			"message": fmt.Sprintf("The route %s could not be found.", strings.TrimPrefix(r.URL.Path, "/")),
		})
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeJSON(w, http.StatusMethodNotAllowed, map[string]any{
			"message": fmt.Sprintf("The %s method is not supported for route v1/email. Supported methods: POST.", r.Method),
		})
		return
	}
	// A fault stands in for the provider failing, so it takes the send before anything
	// else looks at it, and the message is never stored.
	if f, ok := m.takeFault(); ok {
		// net/http notices a client that hung up only once the body is consumed;
		// without this a simulated hang would outlive the client that gave up.
		_, _ = io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, maxBodyBytes))
		answerFault(r.Context(), w, f)
		return
	}
	// The rate limit counts every request, as MailerSend counts failed ones against it.
	now := time.Now()
	if a, ok := m.admit(now); ok {
		a.writeHeaders(w, now)
		if a.refused {
			_, _ = io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, maxBodyBytes))
			writeJSON(w, http.StatusTooManyRequests, map[string]any{"message": a.message()})
			return
		}
	}
	if !hasBearer(r.Header.Get("Authorization")) {
		w.Header().Set("WWW-Authenticate", "Bearer")
		writeJSON(w, http.StatusUnauthorized, map[string]any{"message": "Unauthenticated."})
		return
	}
	if !isJSON(r.Header.Get("Content-Type")) {
		writeJSON(w, http.StatusUnsupportedMediaType, map[string]any{
			"message": "The request body must be JSON (Content-Type: application/json).",
		})
		return
	}
	if r.ContentLength > maxBodyBytes {
		writeTooLarge(w)
		return
	}

	var req sendRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err := dec.Decode(&req); err != nil {
		var tooLarge *http.MaxBytesError
		var typeErr *json.UnmarshalTypeError
		switch {
		case errors.As(err, &tooLarge):
			writeTooLarge(w)
		case errors.As(err, &typeErr) && typeErr.Field != "":
			// A well-formed body with a wrongly typed field is a validation
			// failure at MailerSend, not a malformed request.
			var v validation
			v.add(typeErr.Field, fmt.Sprintf("The %s field has an invalid type.", typeErr.Field))
			v.write(w)
		default:
			writeJSON(w, http.StatusBadRequest, map[string]any{"message": "The request body is not valid JSON."})
		}
		return
	}

	if v := validate(&req); !v.empty() {
		v.write(w)
		return
	}

	msg := Message{
		ID:         newMessageID(),
		To:         make([]string, 0, len(req.To)),
		Subject:    req.Subject,
		Text:       req.Text,
		HTML:       req.HTML,
		ReceivedAt: now.UTC(),
	}
	for _, rc := range req.To {
		msg.To = append(msg.To, rc.Email)
	}
	m.add(msg)

	// MailerSend answers an accepted message with 202, no body, and the id only
	// in this header; the client relies on exactly that.
	w.Header().Set("X-Message-Id", msg.ID)
	w.WriteHeader(http.StatusAccepted)
}

func validate(req *sendRequest) validation {
	var v validation
	switch {
	case req.From == nil || strings.TrimSpace(req.From.Email) == "":
		v.add("from.email", "The from.email field is required.")
	case !validEmail(req.From.Email):
		v.add("from.email", "The from.email must be a valid email address.")
	}

	switch {
	case len(req.To) == 0:
		v.add("to", "The to field is required.")
	case len(req.To) > maxRecipients:
		v.add("to", fmt.Sprintf("The to must not have more than %d items.", maxRecipients))
	}
	for i, rc := range req.To {
		field := fmt.Sprintf("to.%d.email", i)
		switch {
		case strings.TrimSpace(rc.Email) == "":
			v.add(field, fmt.Sprintf("The %s field is required.", field))
		case !validEmail(rc.Email):
			v.add(field, fmt.Sprintf("The %s must be a valid email address.", field))
		}
	}

	switch {
	case strings.TrimSpace(req.Subject) == "":
		v.add("subject", "The subject field is required.")
	case len(req.Subject) > maxSubjectLen:
		v.add("subject", fmt.Sprintf("The subject must not be greater than %d characters.", maxSubjectLen))
	}

	// MailerSend needs at least one body; either alone is enough.
	if strings.TrimSpace(req.Text) == "" && strings.TrimSpace(req.HTML) == "" {
		v.add("text", "The text field is required when html is not present.")
		v.add("html", "The html field is required when text is not present.")
	}

	if len(req.Tags) > maxTags {
		v.add("tags", fmt.Sprintf("The tags must not have more than %d items.", maxTags))
	}
	return v
}

// validEmail accepts a bare address only: net/mail also parses display-name
// forms like "Ada <ada@x>", which MailerSend rejects in an email field.
func validEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Name == "" && a.Address == s
}

func hasBearer(h string) bool {
	scheme, token, ok := strings.Cut(h, " ")
	return ok && strings.EqualFold(scheme, "Bearer") && strings.TrimSpace(token) != ""
}

func isJSON(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}

// validation collects field errors in rule order, because MailerSend's
// top-level message is the first error (plus a count), and JSON object keys
// lose that order.
type validation struct {
	fields []string
	errs   map[string][]string
}

func (v *validation) add(field, msg string) {
	if v.errs == nil {
		v.errs = map[string][]string{}
	}
	if _, seen := v.errs[field]; !seen {
		v.fields = append(v.fields, field)
	}
	v.errs[field] = append(v.errs[field], msg)
}

func (v *validation) empty() bool { return len(v.fields) == 0 }

func (v *validation) write(w http.ResponseWriter) {
	total := 0
	for _, msgs := range v.errs {
		total += len(msgs)
	}
	message := v.errs[v.fields[0]][0]
	switch more := total - 1; {
	case more == 1:
		message += " (and 1 more error)"
	case more > 1:
		message += fmt.Sprintf(" (and %d more errors)", more)
	}
	writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"message": message, "errors": v.errs})
}

func writeTooLarge(w http.ResponseWriter) {
	writeJSON(w, http.StatusRequestEntityTooLarge, map[string]any{
		"message": fmt.Sprintf("The request body must not exceed %d bytes.", maxBodyBytes),
	})
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	// The status line is already out; a failed write means the client left,
	// and there is nobody left to tell.
	_ = json.NewEncoder(w).Encode(body)
}
