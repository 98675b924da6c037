// Command cost prices a million webhooks (2 KB, 100 KB or 1 MB bodies, as the
// scenario says) for each scenario the billing test measured on moto, from those request counts, the template's settings, the
// measured start-up times and a dated price table; and the stack's idle cost per
// month at the template's defaults, item by item, against its target (IdleTarget),
// with what traffic and each opt-in add. `make bench` runs it:
//
//	go run ./infra/bench/cost -requests .run/bench/requests.json \
//	    -startup .run/bench/startup.json [-prices infra/bench/prices.json] \
//	    [-template template.yaml] [-out .run/bench/cost.json]
//
// The HTTP API meters a request per 512 KB (a 1 MB webhook counts twice) and SQS a
// call per 64 KB (the billing test counts the chunks), so below 64 KB the size
// changes nothing but the bytes logged. A body above ingest's inline limit goes
// through the body bucket (a PUT and a GET; the DELETE is free; bodies live
// seconds, so their storage is not priced); the tool prints the break-even behind
// that limit. Exit status 1 when an input is missing or malformed; a missed
// target is printed, not an error.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/tenaz/tenaz/shared/idempotency"
	"github.com/tenaz/tenaz/shared/ingest"
)

// Targets, US dollars per million webhooks on the happy path.
var targets = map[FrontDoor]float64{HTTPAPI: 3.05, FunctionURL: 2.10}

func main() {
	prices := flag.String("prices", "infra/bench/prices.json", "dated price table")
	tmpl := flag.String("template", "template.yaml", "SAM template")
	requests := flag.String("requests", ".run/bench/requests.json", "requests per webhook measured on moto")
	startup := flag.String("startup", ".run/bench/startup.json", "start-up times measured by infra/bench/startup")
	out := flag.String("out", "", "write the figures as JSON here too")
	flag.Parse()
	if err := run(os.Stdout, *prices, *tmpl, *requests, *startup, *out); err != nil {
		fmt.Fprintln(os.Stderr, "cost:", err)
		os.Exit(1)
	}
}

// Result is what -out receives.
type Result struct {
	PricesAsOf string       `json:"pricesAsOf"`
	Region     string       `json:"region"`
	Scenarios  []ScenarioUS `json:"scenarios"`
	// Fixed is the idle cost per month at the template's defaults; IdleItems its
	// items; IdleTarget the most it may be.
	Fixed      float64  `json:"fixedMonthlyUsd"`
	IdleTarget float64  `json:"idleTargetUsd"`
	IdleItems  []ItemUS `json:"idleItems"`
}

// ItemUS is one item of the idle cost.
type ItemUS struct {
	Name string  `json:"name"`
	USD  float64 `json:"usd"`
	How  string  `json:"how"`
}

// ScenarioUS is the price of a million webhooks of one scenario per front door.
type ScenarioUS struct {
	Name        string  `json:"name"`
	BodyBytes   int     `json:"bodyBytes"`
	HTTPAPI     float64 `json:"httpApiUsdPerMillion"`
	FunctionURL float64 `json:"functionUrlUsdPerMillion"`
}

func run(w io.Writer, pricesPath, tmplPath, requestsPath, startupPath, outPath string) error {
	var t PriceTable
	if err := readJSON(pricesPath, &t); err != nil {
		return err
	}
	var req Requests
	if err := readJSON(requestsPath, &req); err != nil {
		return err
	}
	var st struct {
		Functions []struct {
			Name            string  `json:"name"`
			StartupMedianMs float64 `json:"startupMedianMs"`
		} `json:"functions"`
	}
	if err := readJSON(startupPath, &st); err != nil {
		return err
	}
	start := Startup{}
	for _, f := range st.Functions {
		start[f.Name] = f.StartupMedianMs
	}
	d, err := ReadDeployment(tmplPath, idempotency.DefaultRetention.Hours()/24)
	if err != nil {
		return err
	}
	if req.BatchSize != d.BatchSize {
		return fmt.Errorf("requests were measured with batches of %d; the template's BatchSize is %d", req.BatchSize, d.BatchSize)
	}
	res := Result{PricesAsOf: t.AsOf, Region: t.Region}
	fmt.Fprintf(w, "Cost per million webhooks: prices of %s (%s), template %s %v MB, batches of %d, platform logs %s\n",
		t.AsOf, t.Region, d.Arch, d.MemoryMB["processor"], d.BatchSize, d.PlatformLogLevel)
	fmt.Fprintf(w, "%-18s %9s %14s %14s\n", "scenario", "body", string(HTTPAPI), string(FunctionURL))
	var happy map[FrontDoor][]Line
	for _, s := range req.Scenarios {
		row := ScenarioUS{Name: s.Name, BodyBytes: s.BodyBytes}
		byDoor := map[FrontDoor][]Line{}
		for _, door := range []FrontDoor{HTTPAPI, FunctionURL} {
			lines, total, err := CostPerMillion(s, door, d, t, start, req.MaxIdempotencyItemBytes)
			if err != nil {
				return err
			}
			byDoor[door] = lines
			if door == HTTPAPI {
				row.HTTPAPI = total
			} else {
				row.FunctionURL = total
			}
		}
		if s.Name == "happy" {
			happy = byDoor
		}
		res.Scenarios = append(res.Scenarios, row)
		fmt.Fprintf(w, "%-18s %9d %13s %14s\n", s.Name, s.BodyBytes, usd(row.HTTPAPI)+mark(s.Name, HTTPAPI, row.HTTPAPI), usd(row.FunctionURL)+mark(s.Name, FunctionURL, row.FunctionURL))
	}
	if happy == nil {
		return fmt.Errorf("%s has no happy scenario", requestsPath)
	}
	fmt.Fprintf(w, "targets on the happy path: <= %s via %s, <= %s via %s (* = missed)\n", usd(targets[HTTPAPI]), HTTPAPI, usd(targets[FunctionURL]), FunctionURL)
	even, err := BreakEven(t)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "claim check break-even: %.2f chunks of 64 KiB per message (inline: 2 SQS requests a chunk, send and receive; stored: PUT + GET + 2 one-chunk requests); inline limit %d bytes = %d x 64 KiB\n",
		even, ingest.DefaultInlineMaxBytes, ingest.DefaultInlineMaxBytes/(64<<10))
	fmt.Fprintf(w, "\nhappy path, per million webhooks via %s:\n", HTTPAPI)
	for _, l := range happy[HTTPAPI] {
		fmt.Fprintf(w, "  %-18s %9s  %s\n", l.Name, usd(l.USD), l.How)
	}
	idle, err := ReadIdle(tmplPath)
	if err != nil {
		return err
	}
	items, total, options, err := IdleMonthly(t, idle)
	if err != nil {
		return err
	}
	res.Fixed, res.IdleTarget = total, IdleTarget
	verdict := "met"
	if total > IdleTarget {
		verdict = "MISSED"
	}
	fmt.Fprintf(w, "\nidle cost per month at the template's defaults, no traffic: %s (target <= %s: %s)\n", usd(total), usd(IdleTarget), verdict)
	for _, l := range items {
		res.IdleItems = append(res.IdleItems, ItemUS(l))
		fmt.Fprintf(w, "  %-22s %9s  %s\n", l.Name, usd(l.USD), l.How)
	}
	fmt.Fprintf(w, "added per month by traffic and opt-ins:\n")
	for _, l := range options {
		fmt.Fprintf(w, "  %-22s %9s  %s\n", l.Name, "+"+usd(l.USD), l.How)
	}
	if outPath != "" {
		b, err := json.MarshalIndent(res, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(outPath, append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	if _, err := time.Parse("2006-01-02", t.AsOf); err != nil {
		return fmt.Errorf("price table date %q: %w", t.AsOf, err)
	}
	return nil
}

// mark flags a happy-path figure above its target.
func mark(scenario string, door FrontDoor, v float64) string {
	if scenario == "happy" && v > targets[door] {
		return "*"
	}
	return " "
}

func usd(v float64) string { return fmt.Sprintf("$%.3f", v) }

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
