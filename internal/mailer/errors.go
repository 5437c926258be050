package mailer

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// SendError is every error Send returns. Its text is safe to log and store:
// it holds only the HTTP status and MailerSend's (scrubbed) message, never
// addresses, the API key or message bodies.
type SendError struct {
	// StatusCode is MailerSend's HTTP status; 0 when no answer arrived
	// (network failure, timeout, cancellation) or the message was refused
	// before sending.
	StatusCode int
	// Permanent means sending the same message again will fail the same way.
	Permanent bool
	// RetryAfter is the delay MailerSend asked for (Retry-After), 0 if none.
	RetryAfter time.Duration
	// Message is MailerSend's "message" or a short description of the failure.
	Message string

	err error // underlying transport or context error, for errors.Is
}

func (e *SendError) Error() string {
	msg := "mailersend: "
	if e.StatusCode != 0 {
		msg += fmt.Sprintf("%d %s: ", e.StatusCode, http.StatusText(e.StatusCode))
	}
	msg += e.Message
	if e.RetryAfter > 0 {
		msg += fmt.Sprintf(" (retry after %s)", e.RetryAfter)
	}
	return msg
}

// Unwrap exposes the transport or context error, so callers can tell a
// cancellation (errors.Is(err, context.Canceled)) from a provider failure.
func (e *SendError) Unwrap() error { return e.err }

// IsPermanent reports whether err is a *SendError that retrying cannot fix.
func IsPermanent(err error) bool {
	var se *SendError
	return errors.As(err, &se) && se.Permanent
}
