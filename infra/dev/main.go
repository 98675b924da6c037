// Command dev runs the whole Tenaz pipeline on this machine (`make dev`): the ingest on
// http://127.0.0.1:3000/webhooks/{source}, the processor polling the embedded
// in-memory queue like the SQS event source mapping, in-memory idempotency records,
// a dead-letter queue, and a demo destination whose behaviour can be switched.
//
//	-addr     listen address, loopback only (default 127.0.0.1:3000)
//	-sources  sources file (default events/sources.json; TENAZ_SOURCES wins when set)
//
// TENAZ_ROUTES, when set, replaces the default routes (every source to the demo
// destination).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"syscall"
	"time"

	"github.com/tenaz/tenaz/shared/local"
	"github.com/tenaz/tenaz/shared/route"
	"github.com/tenaz/tenaz/shared/telemetry"
	"github.com/tenaz/tenaz/shared/webhook"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:3000", "listen address (loopback)")
	sourcesFile := flag.String("sources", "events/sources.json", "sources file (TENAZ_SOURCES format)")
	flag.Parse()
	if err := run(*addr, *sourcesFile); err != nil {
		fmt.Fprintln(os.Stderr, "dev:", err)
		os.Exit(1)
	}
}

func run(addr, sourcesFile string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || !net.ParseIP(host).IsLoopback() {
		return fmt.Errorf("-addr %q: listen on a loopback address only", addr)
	}
	raw := []byte(os.Getenv("TENAZ_SOURCES"))
	if len(raw) == 0 {
		if raw, err = os.ReadFile(sourcesFile); err != nil {
			return err
		}
	}
	sources, err := webhook.ParseSources(raw)
	if err != nil {
		return err
	}
	var routes []route.Config
	if r := os.Getenv("TENAZ_ROUTES"); r != "" {
		if routes, err = route.ParseConfig([]byte(r)); err != nil {
			return fmt.Errorf("TENAZ_ROUTES: %w", err)
		}
	}
	level, _ := telemetry.ParseLevel(os.Getenv("TENAZ_LOG_LEVEL"))
	log := telemetry.NewLogger(os.Stderr, level)
	p, err := local.New(local.Options{Sources: sources, Routes: routes, DemoURL: "http://" + addr + "/demo/destination", Log: log})
	if err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: p.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("server", "error", err.Error())
			stop()
		}
	}()
	done := make(chan struct{})
	go func() { _ = p.Run(ctx); close(done) }()

	fmt.Printf(`Tenaz is running locally (in-memory queue, DLQ and idempotency store).
  webhooks:     POST http://%[1]s/webhooks/{source}   sources: %[2]v
  status:       GET  http://%[1]s/api/status
  DLQ report:   POST http://%[1]s/api/redrive  {"dryRun": true}     replay: {"filter": {"source": "stripe"}}
  destination:  POST http://%[1]s/demo/mode  {"mode": "healthy|flaky|slow|down|reject", "failPercent": 30, "slowMs": 2000}
Send signed samples from another shell:  make send   (or: make send ARGS="-n 50 -dup 0.2")
Stop with Ctrl-C.
`, addr, sortedNames(sources))
	log.Info("started", "addr", addr)

	<-ctx.Done()
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutdown)
	<-done
	return nil
}

func sortedNames(s webhook.Sources) []string {
	names := make([]string, 0, len(s))
	for n := range s {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
