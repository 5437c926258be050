package devmailbox

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestRingKeepsNewestFirst(t *testing.T) {
	m := New(3)
	for i := range 5 {
		m.add(Message{ID: fmt.Sprint(i), To: []string{fmt.Sprintf("m%d@acme.test", i)}})
	}
	if got := m.Len(); got != 3 {
		t.Fatalf("Len = %d, want 3", got)
	}
	msgs := m.Messages()
	var ids []string
	for _, msg := range msgs {
		ids = append(ids, msg.ID)
	}
	if fmt.Sprint(ids) != "[4 3 2]" {
		t.Fatalf("ids = %v, want [4 3 2] (newest first, oldest dropped)", ids)
	}
}

func TestMessagesReturnsCopies(t *testing.T) {
	m := New(2)
	m.add(Message{ID: "a", To: []string{"ada@acme.test"}})
	got := m.Messages()
	got[0].To[0] = "mallory@evil.test"
	got[0].Subject = "changed"
	again := m.Messages()
	if again[0].To[0] != "ada@acme.test" || again[0].Subject != "" {
		t.Fatalf("stored message was modified through the returned copy: %+v", again[0])
	}
}

func TestNewNonPositiveCapacityUsesDefault(t *testing.T) {
	m := New(0)
	for i := range DefaultCapacity + 1 {
		m.add(Message{ID: fmt.Sprint(i)})
	}
	if got := m.Len(); got != DefaultCapacity {
		t.Fatalf("Len = %d, want %d", got, DefaultCapacity)
	}
	if got := m.Messages()[0].ID; got != fmt.Sprint(DefaultCapacity) {
		t.Fatalf("newest id = %s", got)
	}
}

func TestConcurrentAdds(t *testing.T) {
	m := New(50)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			for j := range 10 {
				m.add(Message{ID: fmt.Sprintf("%d-%d", i, j), ReceivedAt: time.Now()})
				_ = m.Messages()
			}
		})
	}
	wg.Wait()
	if got := m.Len(); got != 50 {
		t.Fatalf("Len = %d, want 50", got)
	}
	seen := map[string]bool{}
	for _, msg := range m.Messages() {
		if msg.ID == "" || seen[msg.ID] {
			t.Fatalf("empty or duplicate id %q in ring", msg.ID)
		}
		seen[msg.ID] = true
	}
}

func TestNewMessageIDShape(t *testing.T) {
	a, b := newMessageID(), newMessageID()
	if len(a) != 24 || a == b {
		t.Fatalf("ids %q %q: want distinct 24-char ids", a, b)
	}
	for _, c := range a {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			t.Fatalf("id %q is not lowercase hex", a)
		}
	}
}
