package local

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/tenaz/tenaz/shared/inspect"
	"github.com/tenaz/tenaz/shared/redrive"
	"github.com/tenaz/tenaz/shared/retry"
)

// Inspect reports where the event of key is, from one read of its idempotency
// record in the pipeline's store.
func (p *Pipeline) Inspect(ctx context.Context, key string) (inspect.Report, error) {
	return inspect.New(p.Store, time.Now).Inspect(ctx, key)
}

//go:embed view/index.html
var view embed.FS

// Limits of the HTTP API.
const (
	statusRecentDefault = 100 // recent events GET /api/status returns unless ?recent= says
	burstTimeout        = 2 * time.Minute
	redriveTimeout      = time.Minute
)

// Handler serves the webhooks endpoint, the demo destination, the live view and its
// JSON API, on one mux:
//
//	GET  /                    the live view (one static page polling the API below)
//	POST /webhooks/{source}   the ingest
//	POST /demo/destination    the demo destination
//	POST /demo/audit          the audit destination (always healthy)
//	GET|POST /demo/mode       read or switch its mode ({"mode": "down"})
//	GET  /api/status          counts, queues, destination, breakers, recent events (?recent=N, at most 200; default 100)
//	GET  /api/dlq             the head of the dead-letter queue (?limit=N, at most 500; default 50)
//	POST /api/redrive         the redrive function: {"dryRun": true} is the DLQ report
//	GET  /api/inspect?key=K   (&format=text for the text form) where the event of
//	                          idempotency key K (source:id) is: one
//	                          read of its record (inspect.Report as JSON)
//	POST /api/send            a burst of signed samples to this ingest: {"n": 50, "dup": 0.2}
//	POST /api/destinations/{name}/pause   hold the destination's records (no attempt spent)
//	POST /api/destinations/{name}/resume  let them through again; both answer its BreakerState
//	                          (404 for a destination no route calls)
func (p *Pipeline) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/webhooks/{source}", p.Ingest.Handler())
	mux.Handle("POST /demo/destination", p.Demo)
	mux.Handle("POST /demo/audit", p.Audit)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		page, err := view.ReadFile("view/index.html")
		if err != nil {
			http.Error(w, "live view missing from the build", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		// The page loads nothing from elsewhere: no script, style or image source
		// but itself.
		w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'")
		_, _ = w.Write(page)
	})
	mux.HandleFunc("/demo/mode", func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			var m DemoMode
			if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&m); err != nil {
				writeJSON(w, http.StatusBadRequest, map[string]string{"error": "body must be {\"mode\": \"...\"}"})
				return
			}
			if err := p.Demo.SetMode(m); err != nil {
				writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
				return
			}
		}
		writeJSON(w, http.StatusOK, p.Demo.Stats().Mode)
	})
	mux.HandleFunc("GET /api/status", func(w http.ResponseWriter, r *http.Request) {
		n, ok := intParam(w, r, "recent", statusRecentDefault, RecentMax)
		if !ok {
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
		defer cancel()
		writeJSON(w, http.StatusOK, p.Status(ctx, n))
	})
	mux.HandleFunc("GET /api/dlq", func(w http.ResponseWriter, r *http.Request) {
		n, ok := intParam(w, r, "limit", DLQListDefault, DLQListMax)
		if !ok {
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 20*time.Second)
		defer cancel()
		l, err := p.DeadLetters(ctx, n)
		if err != nil {
			writeJSON(w, http.StatusBadGateway, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, l)
	})
	mux.HandleFunc("POST /api/redrive", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "could not read the request"})
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), redriveTimeout)
		defer cancel()
		report, err := p.Redrive(ctx, body)
		if errors.Is(err, redrive.ErrBadRequest) {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]any{"error": err.Error(), "report": report})
			return
		}
		writeJSON(w, http.StatusOK, report)
	})
	mux.HandleFunc("GET /api/inspect", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
		defer cancel()
		rep, err := p.Inspect(ctx, r.URL.Query().Get("key"))
		switch {
		case retry.IsPermanent(err):
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		case err != nil:
			writeJSON(w, http.StatusBadGateway, map[string]string{"error": err.Error()})
		case r.URL.Query().Get("format") == "text":
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			_ = rep.WriteText(w)
		default:
			writeJSON(w, http.StatusOK, rep)
		}
	})
	mux.HandleFunc("POST /api/send", func(w http.ResponseWriter, r *http.Request) {
		if p.sender == nil {
			writeJSON(w, http.StatusNotImplemented, map[string]string{"error": "this runner has no sender (Options.Sender)"})
			return
		}
		var b Burst
		dec := json.NewDecoder(io.LimitReader(r.Body, 4096))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&b); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "body must be {\"n\": 50, \"dup\": 0.2, \"source\": \"stripe\"}: " + err.Error()})
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), burstTimeout)
		defer cancel()
		res, err := p.sender.Burst(ctx, b)
		switch {
		case errors.Is(err, ErrBadBurst):
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		case err != nil:
			writeJSON(w, http.StatusGatewayTimeout, map[string]any{"error": err.Error(), "result": res})
		default:
			writeJSON(w, http.StatusOK, res)
		}
	})
	for op, do := range map[string]func(context.Context, string) (BreakerState, error){"pause": p.Pause, "resume": p.Resume} {
		mux.HandleFunc("POST /api/destinations/{name}/"+op, func(w http.ResponseWriter, r *http.Request) {
			ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
			defer cancel()
			st, err := do(ctx, r.PathValue("name"))
			switch {
			case errors.Is(err, ErrUnknownDestination):
				writeJSON(w, http.StatusNotFound, map[string]string{"error": err.Error()})
			case err != nil:
				writeJSON(w, http.StatusBadGateway, map[string]string{"error": err.Error()})
			default:
				writeJSON(w, http.StatusOK, st)
			}
		})
	}
	return mux
}

// Redrive runs the redrive function on the request JSON (redrive.Request), never
// at the same time as a DLQ listing.
func (p *Pipeline) Redrive(ctx context.Context, request []byte) (redrive.Report, error) {
	p.dlqMu.Lock()
	defer p.dlqMu.Unlock()
	p.dlqCache = dlqCache{}
	return p.Redriver.Handle(ctx, request)
}

// intParam reads the query parameter name as an integer in 1..max (def when absent)
// or answers 400.
func intParam(w http.ResponseWriter, r *http.Request, name string, def, max int) (int, bool) {
	raw := r.URL.Query().Get(name)
	if raw == "" {
		return def, true
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 || n > max {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": name + " must be an integer in 1.." + strconv.Itoa(max)})
		return 0, false
	}
	return n, true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
