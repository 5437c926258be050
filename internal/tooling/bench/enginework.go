package bench

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// engineWork counts what the Temporal server did, from its own Prometheus counters:
// requests its frontend served, requests between its services, and its persistence and
// visibility operations, each by operation. Set against a floor's, it names what retryd
// asks of the engine that the floor does not (an extra persistence write, a heartbeat).
type engineWork map[engineOp]float64

// engineOp is one counter: a family (engineFamilies) and an operation.
type engineOp struct{ Family, Operation string }

// engineFamilies are the counters read, with the label values a series must have to
// count: the frontend's served requests are what clients asked; the rest are the
// server's internal cost of answering them.
var engineFamilies = map[string][2]string{
	"service_requests":                {"service_name", "frontend"},
	"client_requests":                 {},
	"persistence_requests":            {},
	"visibility_persistence_requests": {},
}

// engineFlush is how long the server takes to publish what it counted: its metrics
// reach the endpoint at a reporting interval of a second, so a phase's last requests
// show only after it.
const engineFlush = 1200 * time.Millisecond

// settledEngine reads the counters once what was done until now is published. Read so
// at both ends, a phase's counts are what ran from its start to its end plus the
// flush (its own tail, such as the emails of its last gives).
func settledEngine(ctx context.Context, url string) (engineWork, error) {
	select {
	case <-time.After(engineFlush):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return scrapeEngine(ctx, url)
}

// scrapeEngine reads the counters now.
func scrapeEngine(ctx context.Context, url string) (engineWork, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("read Temporal's metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("read Temporal's metrics: %s", resp.Status)
	}
	w := engineWork{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		family, op, v, ok := parseCounter(sc.Text())
		if ok {
			w[engineOp{family, op}] += v
		}
	}
	return w, sc.Err()
}

// parseCounter reads one sample line of the text format, keeping it when its family is
// one of engineFamilies (with or without the _total suffix) and its labels match.
func parseCounter(line string) (family, op string, v float64, ok bool) {
	open := strings.IndexByte(line, '{')
	close := strings.LastIndexByte(line, '}')
	if open < 0 || close < open {
		return "", "", 0, false
	}
	family = strings.TrimSuffix(line[:open], "_total")
	want, known := engineFamilies[family]
	if !known {
		return "", "", 0, false
	}
	labels := line[open+1 : close]
	if want[0] != "" && label(labels, want[0]) != want[1] {
		return "", "", 0, false
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(strings.Fields(line[close+1:] + " 0")[0]), 64)
	if err != nil {
		return "", "", 0, false
	}
	return family, label(labels, "operation"), v, true
}

// label is the value of name in a series' labels, "" when absent.
func label(labels, name string) string {
	i := strings.Index(","+labels, ","+name+`="`)
	if i < 0 {
		return ""
	}
	rest := labels[i+len(name)+2:]
	if j := strings.IndexByte(rest, '"'); j >= 0 {
		return rest[:j]
	}
	return ""
}

// since is what was done between before and w.
func (w engineWork) since(before engineWork) engineWork {
	d := engineWork{}
	for k, v := range w {
		if n := v - before[k]; n > 0 {
			d[k] = n
		}
	}
	return d
}

// total is the family's count over every operation.
func (w engineWork) total(family string) float64 {
	var t float64
	for k, v := range w {
		if k.Family == family {
			t += v
		}
	}
	return t
}

// engineDiff is one operation that a row asks of the engine more, or less, often than
// its floor, per operation of each.
type engineDiff struct {
	Op         engineOp
	Row, Floor float64
	Difference float64
}

// compareEngine lists the operations whose count per operation differs between row and
// floor by at least threshold, the largest difference first.
func compareEngine(row engineWork, rowOps int, floor engineWork, floorOps int, threshold float64) []engineDiff {
	keys := map[engineOp]bool{}
	for k := range row {
		keys[k] = true
	}
	for k := range floor {
		keys[k] = true
	}
	var out []engineDiff
	for k := range keys {
		r, f := row[k]/float64(rowOps), floor[k]/float64(floorOps)
		if d := r - f; math.Abs(d) >= threshold {
			out = append(out, engineDiff{Op: k, Row: r, Floor: f, Difference: d})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if a, b := math.Abs(out[i].Difference), math.Abs(out[j].Difference); a != b {
			return a > b
		}
		return out[i].Op.Family+out[i].Op.Operation < out[j].Op.Family+out[j].Op.Operation
	})
	return out
}
