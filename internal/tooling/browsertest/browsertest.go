// Package browsertest runs a headless Chromium for the admin pages' end-to-end tests and
// gives them a few steps that chromedp lacks: waiting for a condition in the page,
// reading the active element, saving a screenshot, holding requests in flight.
package browsertest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/fetch"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/headshotpro/retryd/internal/tooling/testenv"
)

// EnvScreenshots, when set to a directory, is where Screenshot writes its PNG files
// (the repository's docs/screenshots when refreshing the README's pictures); otherwise
// they go to the test's temporary directory.
const EnvScreenshots = "RETRYD_SCREENSHOTS"

// Browser is one headless Chromium with one tab.
type Browser struct {
	ctx     context.Context
	shotDir string

	mu        sync.Mutex
	problems  []string // what the console would show, in order
	responses []string // "status URL" of every response, in order
}

// New starts Chromium for the test and closes it when the test ends. The flags keep it
// from calling home: the machines that run the tests may have no network, and Chromium
// otherwise keeps trying.
func New(t testing.TB) *Browser {
	t.Helper()
	path := testenv.Chromium(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Headless,
		chromedp.NoSandbox, // tests run as root in containers
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.WindowSize(1280, 1100),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("metrics-recording-only", true),
		chromedp.Flag("no-pings", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("mute-audio", true),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelTab(); cancelAlloc() })
	// The first call starts the browser and must not carry a timeout: its context's end
	// would stop the browser.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("browsertest: start Chromium %s: %v", path, err)
	}
	dir := os.Getenv(EnvScreenshots)
	if dir == "" {
		dir = t.TempDir()
	}
	b := &Browser{ctx: ctx, shotDir: dir}
	if err := chromedp.Listen(ctx, b.record); err != nil {
		t.Fatalf("browsertest: listen to Chromium: %v", err)
	}
	return b
}

// record keeps what a developer console would show as an error: console errors,
// uncaught exceptions, the browser's own error entries (a failed load is one) and
// answers of 400 or more. It runs on chromedp's reading goroutine, so it only appends.
func (b *Browser) record(ev any) {
	var problem, response string
	switch e := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if e.Type == runtime.ConsoleAPICalledTypeError {
			problem = "console.error"
		}
	case *runtime.EventExceptionThrown:
		problem = "exception: " + e.ExceptionDetails.Text
	case *cdplog.EventEntryAdded:
		if e.Entry.Level == cdplog.EntryLevelError {
			problem = "log: " + e.Entry.Text + " " + e.Entry.URL
		}
	case *network.EventResponseReceived:
		response = fmt.Sprintf("%d %s", e.Response.Status, e.Response.URL)
		if e.Response.Status >= 400 {
			problem = "response: " + response
		}
	}
	if problem == "" && response == "" {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if problem != "" {
		b.problems = append(b.problems, problem)
	}
	if response != "" {
		b.responses = append(b.responses, response)
	}
}

// Problems are the console errors, failed loads and error answers seen since the
// browser started or ResetProblems.
func (b *Browser) Problems() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.problems...)
}

// Responses are the "status URL" of every answer seen since the browser started or
// ResetProblems, including the browser's own requests such as a page's icon.
func (b *Browser) Responses() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.responses...)
}

// ResetProblems forgets the problems and answers seen so far.
func (b *Browser) ResetProblems() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.problems, b.responses = nil, nil
}

// Do performs steps with a deadline, failing the test with what was being done.
func (b *Browser) Do(t testing.TB, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.fatal(t, what, err)
	}
}

// Run performs one action that returns a value.
func Run[T any](t testing.TB, b *Browser, what string, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.fatal(t, what, err)
	}
	return v
}

// Eval evaluates a JavaScript expression and returns its value.
func Eval[T any](t testing.TB, b *Browser, expr string) T {
	t.Helper()
	return Run(t, b, "evaluate "+expr, chromedp.Evaluate[T](expr))
}

// Text is the visible text of the page.
func (b *Browser) Text(t testing.TB) string {
	t.Helper()
	return Eval[string](t, b, `document.body ? document.body.innerText : ""`)
}

// Location is the page's address.
func (b *Browser) Location(t testing.TB) string {
	t.Helper()
	return Run(t, b, "location", chromedp.Location())
}

func (b *Browser) fatal(t testing.TB, what string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	body, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText.slice(0, 2000) : ""`))
	t.Fatalf("browser: %s: %v\nat %s\npage text:\n%s", what, err, loc, body)
}

// WaitTrue polls a JavaScript condition until it is true (at most 30 s).
func (b *Browser) WaitTrue(t testing.TB, what, expr string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`Boolean(`+expr+`)`))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			b.fatal(t, "wait for "+what+" ("+expr+")", fmt.Errorf("timed out; last error %v", err))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Screenshot saves the viewport as name.png and returns its path.
func (b *Browser) Screenshot(t testing.TB, name string) string {
	t.Helper()
	png := Run(t, b, "screenshot "+name, chromedp.CaptureScreenshot())
	if len(png) == 0 {
		t.Fatalf("browser: screenshot %s is empty", name)
	}
	if err := os.MkdirAll(b.shotDir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(b.shotDir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(fmt.Errorf("browser: write screenshot: %w", err))
	}
	return path
}

// Held is the page's requests that Hold paused before sending them: the test acts on the
// page while they are in flight, for as long as it needs, instead of racing a fast local
// server. While a held request is a navigation (a form's submit), Chromium answers no
// command to the page (it keeps them for the document to come), so Eval waits until
// Release; what the page showed meanwhile is read with Record. Input still goes through.
type Held struct {
	b      *Browser
	stop   context.CancelFunc
	mu     sync.Mutex
	paused []fetch.RequestID
	seen   int
	done   bool
}

// Hold pauses every request of the page whose URL matches pattern ('*' is any text and
// '?' one character, as the DevTools protocol's Fetch.enable takes them) until Release.
// The test's end releases what is still held.
func (b *Browser) Hold(t testing.TB, pattern string) *Held {
	t.Helper()
	lctx, stop := context.WithCancel(b.ctx)
	h := &Held{b: b, stop: stop}
	// The listener runs in the tab's read loop, so it only records the id.
	if err := chromedp.Listen(lctx, func(ev any) {
		if e, ok := ev.(*fetch.EventRequestPaused); ok {
			h.mu.Lock()
			h.paused = append(h.paused, e.RequestID)
			h.seen++
			h.mu.Unlock()
		}
	}); err != nil {
		stop()
		b.fatal(t, "listen for paused requests", err)
	}
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if _, err := chromedp.Call(ctx, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{{URLPattern: pattern, RequestStage: fetch.RequestStageRequest}}}); err != nil {
		stop()
		b.fatal(t, "hold requests to "+pattern, err)
	}
	t.Cleanup(func() { _ = h.release() })
	return h
}

// Count is how many requests were held since Hold.
func (h *Held) Count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.seen
}

// WaitHeld waits until at least n requests were held.
func (h *Held) WaitHeld(t testing.TB, n int) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); h.Count() < n; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			h.b.fatal(t, fmt.Sprintf("wait for %d held requests", n), fmt.Errorf("timed out with %d", h.Count()))
		}
	}
}

// Release sends the held requests on and stops holding.
func (h *Held) Release(t testing.TB) {
	t.Helper()
	if err := h.release(); err != nil {
		h.b.fatal(t, "release held requests", err)
	}
}

func (h *Held) release() error {
	ctx, cancel := context.WithTimeout(h.b.ctx, 30*time.Second)
	defer cancel()
	h.mu.Lock()
	paused, done := h.paused, h.done
	h.paused, h.done = nil, true
	h.mu.Unlock()
	if done {
		return nil
	}
	for _, id := range paused {
		if _, err := chromedp.Call(ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: id}); err != nil {
			return fmt.Errorf("continue %s: %w", id, err)
		}
	}
	if _, err := chromedp.Call(ctx, fetch.Disable, cdp.Empty{}); err != nil {
		return fmt.Errorf("disable: %w", err)
	}
	h.stop()
	return nil
}

// recordKey is the sessionStorage entry in which Record keeps its log.
const recordKey = "browsertest.record"

// Record has every page loaded from now on log what the JavaScript expression expr
// evaluates to (as a string) when the page loads and whenever its DOM changes, each value
// once in a row, into sessionStorage, which outlives a navigation within the tab. expr
// runs in a world of its own: it sees the page's DOM, not the page's script's variables. A test
// reads the log with Recorded once the next page has loaded, to see what the page showed
// while a navigation was in flight, when DevTools answers no command to the page.
func (b *Browser) Record(t testing.TB, expr string) {
	t.Helper()
	src := `(function () {
  function snap() {
    var v;
    try { v = String(` + expr + `); } catch (e) { v = 'error: ' + e; }
    var log = JSON.parse(sessionStorage.getItem('` + recordKey + `') || '[]');
    if (log[log.length - 1] !== v) { log.push(v); sessionStorage.setItem('` + recordKey + `', JSON.stringify(log)); }
  }
  document.addEventListener('DOMContentLoaded', function () {
    snap();
    new MutationObserver(snap).observe(document.documentElement, { subtree: true, childList: true, attributes: true, characterData: true });
  });
}());`
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: src, WorldName: "browsertest"}); err != nil {
		b.fatal(t, "record "+expr, err)
	}
}

// Recorded is the log that Record's expression wrote so far, oldest first.
func (b *Browser) Recorded(t testing.TB) []string {
	t.Helper()
	var log []string
	raw := Eval[string](t, b, `sessionStorage.getItem('`+recordKey+`') || '[]'`)
	if err := json.Unmarshal([]byte(raw), &log); err != nil {
		t.Fatalf("browser: the record is no list of strings: %v: %s", err, raw)
	}
	return log
}
