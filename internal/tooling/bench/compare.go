package bench

import (
	"fmt"
	"strings"
)

// Named is one topology's report, with the name the comparison gives it.
type Named struct {
	Name   string
	Report *Report
}

// comparedRows are the rows set side by side across topologies: what the engine costs
// and what a give-retry, a member start, a bulk restart and a webhook delivery cost on
// top of it.
var comparedRows = []string{KeyEngineBare, KeyEngineShapedSeq, KeyEngineShapedConc, KeyGiveSeq, KeyGiveConc, KeyStart, KeyBulk, KeyEmail,
	KeyGiveWebhook, KeyEngineWebhookSeq, KeyWebhookSeq, KeyEngineWebhookBurst, KeyWebhookBurst}

// CompareMarkdown sets the main rows of several runs side by side (p50, p99, ops/s), so
// the dev server's figures and the production topology's can be read in one table.
func CompareMarkdown(runs []Named) string {
	var b strings.Builder
	b.WriteString("| path |")
	for _, r := range runs {
		fmt.Fprintf(&b, " %s p50 ms | p99 ms | ops/s |", r.Name)
	}
	b.WriteString("\n|---|")
	for range runs {
		b.WriteString("---|---|---|")
	}
	b.WriteString("\n")
	for _, key := range comparedRows {
		var name string
		for _, r := range runs {
			if row := r.Report.row(key); row != nil {
				name = row.Name
				break
			}
		}
		if name == "" {
			continue
		}
		fmt.Fprintf(&b, "| %s |", name)
		for _, r := range runs {
			row := r.Report.row(key)
			if row == nil {
				b.WriteString(" — | — | — |")
				continue
			}
			fmt.Fprintf(&b, " %s | %s | %.1f |", millis(row.Sum.P50), millis(row.Sum.P99), row.Sum.PerSecond())
		}
		b.WriteString("\n")
	}
	return b.String()
}
