// Package devmailbox is a local stand-in for MailerSend's email API. Without a
// MailerSend key the service still sends through the real mailersend-go client,
// pointed here, so development exercises the same HTTP contract (auth, JSON
// shape, validation, 202 + X-Message-Id) as production, and the delivered
// messages stay in memory for inspection.
package devmailbox

import (
	"crypto/rand"
	"encoding/hex"
	"sync"
	"time"
)

// DefaultCapacity is used when New is given a non-positive capacity, so a
// zero-valued config still yields a usable mailbox rather than one that drops
// everything.
const DefaultCapacity = 1000

// Message is one email accepted by the endpoint, in the shape GET /dev/mailbox
// exposes (a fixed interface: scripts outside the code read it).
type Message struct {
	ID         string    `json:"id"`
	To         []string  `json:"to"`
	Subject    string    `json:"subject"`
	Text       string    `json:"text"`
	HTML       string    `json:"html"`
	ReceivedAt time.Time `json:"received_at"`
}

// Mailbox keeps the newest messages in a fixed ring so a long-running dev server
// cannot grow without bound. It is safe for concurrent use.
type Mailbox struct {
	mu   sync.Mutex
	ring []Message
	next int // slot the next message is written to
	n    int // number of occupied slots

	fault  Fault       // the pending send fault; Count 0 and RateLimit 0 mean none
	window limitWindow // where the rate limit's current window stands
}

// New returns a mailbox that keeps the newest capacity messages.
func New(capacity int) *Mailbox {
	if capacity <= 0 {
		capacity = DefaultCapacity
	}
	return &Mailbox{ring: make([]Message, capacity)}
}

// Len reports how many messages are currently kept.
func (m *Mailbox) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.n
}

// Messages returns the kept messages, newest first. The result shares nothing
// with the mailbox, so callers may keep or modify it.
func (m *Mailbox) Messages() []Message {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Message, 0, m.n)
	for i := 1; i <= m.n; i++ {
		msg := m.ring[(m.next-i+len(m.ring))%len(m.ring)]
		msg.To = append([]string(nil), msg.To...)
		out = append(out, msg)
	}
	return out
}

func (m *Mailbox) add(msg Message) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ring[m.next] = msg
	m.next = (m.next + 1) % len(m.ring)
	if m.n < len(m.ring) {
		m.n++
	}
}

// newMessageID mimics MailerSend's ids (24 hex characters) so code that stores
// or logs them sees the same format in development as in production.
func newMessageID() string {
	var b [12]byte
	// crypto/rand.Read never returns an error (Go 1.24+); it aborts the program
	// if the OS cannot supply randomness.
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
