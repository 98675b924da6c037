//go:build integration

package local

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromium is Debian's chromium package, installed by `make setup`.
const chromium = "/usr/bin/chromium"

// browser opens a headless Chromium on a fresh profile and returns its context.
func browser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("%s: %v (make setup installs Debian's chromium package)", chromium, err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 1100),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithErrorf(t.Logf))
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancel(); cancelAlloc() })
	return ctx
}

// page drives the live view in a browser.
type page struct {
	t   *testing.T
	ctx context.Context
}

// eval runs a JavaScript expression on the page and returns its value.
func eval[T any](pg page, expr string) T {
	pg.t.Helper()
	v, err := chromedp.Run(pg.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		pg.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// text returns the text of the element with id.
func (pg page) text(id string) string {
	pg.t.Helper()
	return eval[string](pg, fmt.Sprintf(`(document.getElementById(%q) || {textContent: "(no #%s)"}).textContent`, id, id))
}

// number returns the element's text as an integer (thousands separators allowed).
func (pg page) number(id string) int {
	pg.t.Helper()
	s := pg.text(id)
	n, err := strconv.Atoi(strings.ReplaceAll(s, ",", ""))
	if err != nil {
		pg.t.Fatalf("#%s is %q, not a number", id, s)
	}
	return n
}

// until waits up to 30 s for cond, which reads the page, and says what it saw last.
func (pg page) until(what string, cond func() (bool, string)) {
	pg.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok, seen := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			pg.t.Fatalf("the page never showed %s; last seen: %s", what, seen)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// untilText waits for the element's text to be want.
func (pg page) untilText(id, want string) {
	pg.t.Helper()
	pg.until(fmt.Sprintf("#%s = %q", id, want), func() (bool, string) {
		got := pg.text(id)
		return got == want, got
	})
}

// breaker returns the data-state of the breaker row of dependency.
func (pg page) breaker(dependency string) string {
	pg.t.Helper()
	return eval[string](pg, fmt.Sprintf(`(document.getElementById(%q) || {dataset: {state: "(no row)"}}).dataset.state`, "breaker-"+dependency))
}

func (pg page) click(id string) {
	pg.t.Helper()
	if err := chromedp.Do(pg.ctx, chromedp.Click(chromedp.ID(id), chromedp.NodeVisible)); err != nil {
		pg.t.Fatalf("click #%s: %v", id, err)
	}
}

func (pg page) fill(id, value string) {
	pg.t.Helper()
	if err := chromedp.Do(pg.ctx, chromedp.SetValue(chromedp.ID(id), value)); err != nil {
		pg.t.Fatalf("fill #%s: %v", id, err)
	}
}

// burst sends a burst through the page's control and waits for its result line.
func (pg page) burst(n int, dup string) {
	pg.t.Helper()
	pg.fill("burst-n", strconv.Itoa(n))
	pg.fill("burst-dup", dup)
	eval[string](pg, `document.getElementById("burst-result").textContent = ""`)
	pg.click("send-burst")
	pg.until(fmt.Sprintf("a burst of %d accepted", n), func() (bool, string) {
		got := pg.text("burst-result")
		return strings.HasPrefix(got, fmt.Sprintf("%d webhooks", n)) && strings.Contains(got, " 0 refused"), got
	})
}

// The live view in a real browser: counts after a burst, the breaker opening while
// the destination is down and closing once it is back (switched on the page), and
// a dead letter replayed with the page's replay button.
func TestE2EBrowserLiveView(t *testing.T) {
	p, s := start(t)
	s.rnd = func() float64 { return 0.1 } // every draw below dup: each webhook of a burst with dup > 0.1 is posted twice
	ctx := browser(t)
	pg := page{t: t, ctx: ctx}
	if err := chromedp.Do(ctx, chromedp.Navigate(s.BaseURL+"/"), chromedp.WaitVisible(chromedp.ID("count-processed"))); err != nil {
		t.Fatalf("open the live view: %v", err)
	}
	pg.untilText("backend", "memory")
	// The default routes fan every webhook out to the demo and the audit
	// destinations, each behind its own breaker.
	deps := p.Dependencies()
	if len(deps) != 2 || deps[0] != "demo" || deps[1] != "audit" {
		t.Fatalf("dependencies %v", deps)
	}
	dep := deps[0]
	pg.until("the breaker closed", func() (bool, string) { st := pg.breaker(dep); return st == "closed", st })

	// A burst with a duplicate of every webhook.
	pg.burst(20, "0.5")
	pg.untilText("count-processed", "20")
	pg.untilText("count-duplicate", "20")
	if got := pg.number("count-received"); got != 40 {
		t.Fatalf("received %d, want 40", got)
	}
	pg.untilText("dest-effects", "20")
	if st := p.Status(ctx, 0); st.Counts["processed"] != 20 || st.Demo.Effects != 20 || st.Demo.Repeats != 0 {
		t.Fatalf("the page and the pipeline disagree: %+v", st)
	}

	// Destination down: retries, then the breaker opens; back up: it closes and
	// everything is delivered once.
	pg.click("mode-down")
	pg.untilText("dest-mode", "down")
	pg.burst(6, "0")
	pg.until("the breaker open", func() (bool, string) { st := pg.breaker(dep); return st == "open", st })
	if got := pg.number("count-retried"); got < 5 {
		t.Fatalf("retried %d while down, want at least the breaker's threshold (5)", got)
	}
	if pressed := eval[string](pg, `document.getElementById("mode-down").getAttribute("aria-pressed")`); pressed != "true" {
		t.Fatalf("the down button is not shown pressed: %q", pressed)
	}
	pg.click("mode-healthy")
	pg.untilText("dest-mode", "healthy")
	pg.until("the breaker closed again", func() (bool, string) { st := pg.breaker(dep); return st == "closed", st })
	pg.untilText("count-processed", "26")
	pg.untilText("dest-effects", "26")

	// Rejected webhooks go to the DLQ and are listed with their reason; replayed
	// from the page once the destination is fixed.
	pg.click("mode-reject")
	pg.untilText("dest-mode", "reject")
	pg.burst(3, "0")
	pg.untilText("dlq-count", "3")
	pg.until("three dead letters listed", func() (bool, string) {
		rows := eval[[]string](pg, `[...document.querySelectorAll("#dlq-rows tr")].map(r => r.textContent)`)
		ok := len(rows) == 3
		for _, r := range rows {
			ok = ok && strings.Contains(r, "permanent") && strings.Contains(r, "HTTP 400")
		}
		b, _ := json.Marshal(rows)
		return ok, string(b)
	})
	pg.untilText("count-dead-lettered", "3")
	// Each event shows its destinations: the audit destination took it, the demo
	// destination's refusal went to the DLQ.
	pg.until("per-destination progress", func() (bool, string) {
		rows := eval[[]string](pg, `[...document.querySelectorAll("#events tr")].map(r => r.textContent).filter(t => t.includes("processor")).slice(0, 3)`)
		ok := len(rows) == 3
		for _, r := range rows {
			ok = ok && strings.Contains(r, "deadLettered") && strings.Contains(r, "demo → DLQ") && strings.Contains(r, "audit ✓")
		}
		b, _ := json.Marshal(rows)
		return ok, string(b)
	})

	// Where is my event: a click on a dead letter's key inspects it.
	key := eval[string](pg, `document.querySelector("#dlq-rows td.key").dataset.key`)
	eval[bool](pg, `document.querySelector("#dlq-rows td.key").click(), true`)
	pg.until("the dead letter inspected", func() (bool, string) {
		got := pg.text("inspect-result")
		return strings.HasPrefix(got, key+"  deadLettered") && strings.Contains(got, "HTTP 400") &&
			strings.Contains(got, "→ demo") && strings.Contains(got, "deadLettered (permanent)") && strings.Contains(got, "→ audit"), got
	})
	shot(t, ctx, "live-view.png")

	pg.click("dry-run")
	pg.until("the DLQ report", func() (bool, string) {
		got := pg.text("redrive-result")
		return strings.Contains(got, "3 in the DLQ, 3 would be replayed"), got
	})
	if got := pg.number("dlq-count"); got != 3 {
		t.Fatalf("the dry run changed the DLQ: %d", got)
	}
	pg.click("mode-healthy")
	pg.untilText("dest-mode", "healthy")
	pg.click("replay")
	pg.until("the replay result", func() (bool, string) {
		got := pg.text("redrive-result")
		return strings.HasPrefix(got, "replayed 3 of 3"), got
	})
	pg.untilText("dlq-count", "0")
	pg.untilText("count-processed", "29")
	pg.untilText("dest-effects", "29")
	pg.until("an empty DLQ table", func() (bool, string) {
		got := pg.text("dlq-rows")
		return got == "empty", got
	})
	if st := p.Status(ctx, 0); st.Demo.Repeats != 0 || st.DLQ.Total() != 0 {
		t.Fatalf("after the replay: %+v", st)
	}
	pg.fill("inspect-key", key)
	pg.click("inspect")
	pg.until("the replayed event completed", func() (bool, string) {
		got := pg.text("inspect-result")
		return strings.HasPrefix(got, key+"  completed"), got
	})

	// Pause the destination on its breaker row: a burst waits, unattempted; resume:
	// each webhook is delivered once.
	paused := func() (bool, string) {
		p := eval[string](pg, fmt.Sprintf(`(document.getElementById(%q) || {dataset: {}}).dataset.paused || "(no row)"`, "breaker-"+dep))
		return p == "true", p
	}
	holdButton := fmt.Sprintf(`document.getElementById(%q).querySelector("button[data-op]")`, "breaker-"+dep)
	eval[bool](pg, holdButton+`.click(), true`)
	pg.until("the destination paused", paused)
	pg.burst(2, "0")
	pg.until("records deferred while paused", func() (bool, string) {
		rows := eval[[]string](pg, `[...document.querySelectorAll("#events tr")].map(r => r.textContent)`)
		return len(rows) > 0 && strings.Contains(strings.Join(rows, "\n"), "paused"), strings.Join(rows[:min(3, len(rows))], " | ")
	})
	if got := pg.number("dest-effects"); got != 29 {
		t.Fatalf("a paused destination received webhooks: effects %d, want 29", got)
	}
	if op := eval[string](pg, holdButton+`.dataset.op`); op != "resume" {
		t.Fatalf("the paused row offers %q, want resume", op)
	}
	eval[bool](pg, holdButton+`.click(), true`)
	pg.until("the destination resumed", func() (bool, string) { ok, seen := paused(); return !ok, seen })
	pg.untilText("count-processed", "31")
	pg.untilText("dest-effects", "31")
}

// shot saves a screenshot of the browser window (1400 x 1100) into
// TENAZ_TEST_RUN_DIR, when set.
func shot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("TENAZ_TEST_RUN_DIR")
	if dir == "" {
		return
	}
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}
