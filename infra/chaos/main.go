// Command chaos runs the chaos ledger (shared/chaos): webhooks through the real
// ingest, processor, idempotency, breaker and redrive code on the in-memory adapters,
// with faults injected at random from a seed, and prints each run's ledger. It exits
// 1 when a run lost or doubled a webhook, printing the seed and the command that
// reproduces it, and 2 when a run could not be carried out.
//
//	go run ./infra/chaos -n 2000 -seeds 3
//	go run ./infra/chaos -seed 1718000000 -n 2000
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/tenaz/tenaz/shared/chaos"
)

func main() {
	seed := flag.Int64("seed", 0, "first seed (default: the current time in seconds, printed)")
	n := flag.Int("n", chaos.DefaultWebhooks, "webhooks per run")
	seeds := flag.Int("seeds", 1, "number of consecutive seeds to run, from -seed")
	dests := flag.Int("destinations", chaos.DefaultDestinations, "destinations events fan out to, 1 to 3")
	flag.Parse()
	if *n <= 0 || *seeds <= 0 {
		fmt.Fprintln(os.Stderr, "chaos: -n and -seeds must be positive")
		os.Exit(2)
	}
	first := *seed
	explicit := false
	flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "seed" })
	if !explicit {
		first = time.Now().Unix()
		fmt.Printf("seed %d (from the clock; pass -seed %d to repeat)\n", first, first)
	}
	os.Exit(runSeeds(first, *seeds, *n, *dests))
}

// runSeeds runs count seeds from first and returns the exit status.
func runSeeds(first int64, count, n, dests int) int {
	var failing []int64
	for s := first; s < first+int64(count); s++ {
		began := time.Now()
		led, err := chaos.Run(chaos.Config{Seed: s, Webhooks: n, Destinations: dests})
		elapsed := time.Since(began)
		if err != nil {
			fmt.Fprintf(os.Stderr, "chaos: seed %d: %v\n", s, err)
			return 2
		}
		fmt.Printf("%s\n  (%d webhooks in %v)\n\n", led.String(), n, elapsed.Round(time.Millisecond))
		if !led.OK() {
			failing = append(failing, s)
		}
	}
	if len(failing) == 0 {
		fmt.Printf("ok: %d seed(s), nothing lost, nothing doubled\n", count)
		return 0
	}
	for _, s := range failing {
		fmt.Printf("FAIL seed %d lost or doubled webhooks; reproduce with: go run ./infra/chaos -seed %d -n %d -destinations %d\n", s, s, n, dests)
	}
	return 1
}
