package bench

import (
	"slices"
	"testing"
)

// TestStepOrder: the interleaved order runs every step of the floor's, retryd's and
// the webhooks' lists once, each list in its own order (a list's later step uses what
// an earlier one left), and each retryd row after its floor.
func TestStepOrder(t *testing.T) {
	r := &runner{cfg: DefaultConfig()}
	lists := [][]step{r.engineFloor(), r.retrydPaths(), r.webhooks()}
	ran := interleave(stepOrder, lists...)
	at := map[string]int{}
	for i, s := range ran {
		if _, dup := at[s.key]; dup {
			t.Errorf("step %s runs twice", s.key)
		}
		at[s.key] = i
	}
	total := 0
	for _, l := range lists {
		total += len(l)
		for i := 1; i < len(l); i++ {
			a, okA := at[l[i-1].key]
			b, okB := at[l[i].key]
			if !okA || !okB {
				t.Errorf("step %s or %s does not run", l[i-1].key, l[i].key)
				continue
			}
			if a > b {
				t.Errorf("step %s runs before %s, which its list runs first", l[i].key, l[i-1].key)
			}
		}
	}
	if len(ran) != total {
		t.Errorf("%d steps run, the lists have %d", len(ran), total)
	}
	for _, pair := range [][2]string{{KeyEngineShapedSeq, KeyGiveSeq}, {KeyEngineShapedConc, KeyGiveConc}, {KeyEngineSignal, KeyStart},
		{KeyEngineBulk, KeyBulk}, {KeyEngineWebhookSeq, KeyWebhookSeq}, {KeyEngineWebhookBurst, KeyWebhookBurst}} {
		if at[pair[1]] != at[pair[0]]+1 {
			t.Errorf("%s runs at %d, not right after its floor %s at %d", pair[1], at[pair[1]], pair[0], at[pair[0]])
		}
	}
	rows := inKeyOrder([]Row{{Key: KeyGiveSeq}, {Key: KeyEngineShapedSeq}, {Key: KeyEngineBare}})
	if got := []string{rows[0].Key, rows[1].Key, rows[2].Key}; !slices.Equal(got, []string{KeyEngineBare, KeyEngineShapedSeq, KeyGiveSeq}) {
		t.Errorf("rows in key order: %v", got)
	}
}
