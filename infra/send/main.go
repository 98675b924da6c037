// Command send posts signed sample webhooks to a running Tenaz (`make send`) and
// prints each answer.
//
//	-url      base URL (default http://127.0.0.1:3000)
//	-sources  sources file whose first secrets sign (default events/sources.json)
//	-source   one source name (default: every source)
//	-n        webhooks per source (default 1)
//	-dup      probability in [0,1] that a webhook is sent a second time, as providers
//	          do when they retry (default 0)
package main

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	mrand "math/rand/v2"
	"os"

	"github.com/tenaz/tenaz/shared/local"
)

func main() {
	url := flag.String("url", "http://127.0.0.1:3000", "base URL of the ingest")
	sourcesFile := flag.String("sources", "events/sources.json", "sources file")
	only := flag.String("source", "", "send only for this source")
	n := flag.Int("n", 1, "webhooks per source")
	dup := flag.Float64("dup", 0, "probability that a webhook is sent twice")
	flag.Parse()
	if err := run(*url, *sourcesFile, *only, *n, *dup); err != nil {
		fmt.Fprintln(os.Stderr, "send:", err)
		os.Exit(1)
	}
}

func run(url, sourcesFile, only string, n int, dup float64) error {
	if n < 1 || dup < 0 || dup > 1 {
		return fmt.Errorf("-n must be ≥ 1 and -dup in [0,1]")
	}
	raw, err := os.ReadFile(sourcesFile)
	if err != nil {
		return err
	}
	s, err := local.NewSender(url, raw)
	if err != nil {
		return err
	}
	names := s.Sources()
	if only != "" {
		names = []string{only}
	}
	ctx := context.Background()
	accepted, refused := 0, 0
	for i := 0; i < n; i++ {
		for _, name := range names {
			id := rand.Text()[:20]
			times := 1
			if mrand.Float64() < dup {
				times = 2
			}
			for k := 0; k < times; k++ {
				sent, err := s.Send(ctx, name, id)
				if err != nil {
					return fmt.Errorf("%s: %w (is `make dev` running?)", name, err)
				}
				note := ""
				if k > 0 {
					note = "  (duplicate delivery)"
				}
				fmt.Printf("%-18s %-22s %d %s%s\n", name, id, sent.Status, sent.Body, note)
				if sent.Status == 202 {
					accepted++
				} else {
					refused++
				}
			}
		}
	}
	fmt.Printf("%d accepted, %d refused\n", accepted, refused)
	if refused > 0 {
		return fmt.Errorf("%d webhooks refused", refused)
	}
	return nil
}
