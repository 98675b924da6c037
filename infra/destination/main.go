// Command destination pauses and resumes a destination (`make pause DEST=…`,
// `make resume DEST=…`) and lists the destinations' breakers (`make destinations`),
// writing the breaker table directly with the breaker's own store code.
//
//	destination [flags] pause NAME     hold NAME's records: no attempt is spent until resumed
//	destination [flags] resume NAME    close NAME's breaker: its records go through again
//	destination [flags] status [NAME…] the breakers of NAME…, or of every destination with one
//
//	-table          breaker table (default $TENAZ_BREAKER_TABLE)
//	-stack-outputs  file with the stack's outputs as `sam list stack-outputs --output json`
//	                prints them ("-": standard input); its BreakerTableName is the table
//	-region         AWS region of the table (default: the AWS environment's)
//	-local          base URL of a local runner (`make dev`): ask its API instead
//
// NAME is a route's dependency: its "dependency", or the host of its URL. A pause is
// seen by every processor container within TENAZ_BREAKER_CACHE_MS (default 1 s) and
// lasts, across deploys and restarts, until resumed. Pausing a paused destination and
// resuming one that is not paused change nothing (resume never closes an open breaker
// that is not paused). AWS credentials and region come from the usual AWS environment.
// Exit status: 0 when done, 1 when the table could not be read or written (retrying
// may help when it was unavailable), 2 on bad usage.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tenaz/tenaz/infra/internal/stackout"
	"github.com/tenaz/tenaz/shared/breaker"
	"github.com/tenaz/tenaz/shared/breaker/dynamostore"
	"github.com/tenaz/tenaz/shared/config"
	"github.com/tenaz/tenaz/shared/ratelimit"
)

// timeout bounds the whole command.
const timeout = 30 * time.Second

// tableOutput is the stack output that names the breaker table (template.yaml).
const tableOutput = "BreakerTableName"

// usageError is a request the command cannot work with.
type usageError struct{ error }

func main() {
	table := flag.String("table", os.Getenv(config.EnvBreakerTable), "breaker table")
	outputs := flag.String("stack-outputs", "", "stack outputs JSON file (`sam list stack-outputs --output json`), - for stdin")
	region := flag.String("region", "", "AWS region of the table")
	local := flag.String("local", "", "base URL of a local runner")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	err := run(ctx, os.Stdout, flag.Args(), *table, *outputs, *region, *local)
	if err != nil {
		fmt.Fprintln(os.Stderr, "destination:", err)
		var u usageError
		if errors.As(err, &u) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

func run(ctx context.Context, w io.Writer, args []string, table, outputs, region, local string) error {
	op, names, err := parseArgs(args)
	if err != nil {
		return err
	}
	if local != "" {
		return runLocal(ctx, w, local, op, names)
	}
	if outputs != "" {
		if table, err = stackout.Read(outputs, tableOutput); err != nil {
			return usageError{err}
		}
	}
	if table == "" {
		return usageError{fmt.Errorf("no table: set %s, -table or -stack-outputs", config.EnvBreakerTable)}
	}
	cfg, err := config.AWS(ctx)
	if err != nil {
		return err
	}
	if region != "" {
		cfg.Region = region
	}
	return operate(ctx, w, dynamodb.NewFromConfig(cfg), table, op, names, time.Now())
}

func parseArgs(args []string) (op string, names []string, err error) {
	const usage = "usage: destination [-table T | -stack-outputs FILE | -local URL] pause NAME | resume NAME | status [NAME…]"
	if len(args) == 0 {
		return "", nil, usageError{errors.New(usage)}
	}
	op, names = args[0], args[1:]
	for _, n := range names {
		if strings.TrimSpace(n) == "" {
			return "", nil, usageError{errors.New("a destination name is empty; " + usage)}
		}
	}
	switch {
	case (op == "pause" || op == "resume") && len(names) == 1:
	case op == "status":
	default:
		return "", nil, usageError{errors.New(usage)}
	}
	return op, names, nil
}

// API is the part of the DynamoDB client the command uses.
type API interface {
	dynamostore.API
	Scan(ctx context.Context, in *dynamodb.ScanInput, opts ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
}

// operate runs op on the table at now and prints the outcome.
func operate(ctx context.Context, w io.Writer, api API, table, op string, names []string, now time.Time) error {
	store := dynamostore.New(table, api, dynamostore.Options{})
	switch op {
	case "pause", "resume":
		write := store.Pause
		if op == "resume" {
			write = store.Resume
		}
		rec, won, err := write(ctx, names[0], now)
		if err != nil {
			return fmt.Errorf("%s %s: %w", op, names[0], err)
		}
		switch {
		case won && op == "pause":
			fmt.Fprintf(w, "paused %s: its records wait, spending no attempt, until `make resume DEST=%s`; every container sees it within %s (default 1 s)\n", rec.Name, rec.Name, config.EnvBreakerCache)
		case won:
			fmt.Fprintf(w, "resumed %s: its breaker is closed, its waiting records are delivered within %s (default 15 min)\n", rec.Name, config.EnvDeferMax)
		case op == "pause":
			fmt.Fprintf(w, "%s was already paused: nothing changed\n", rec.Name)
		default:
			fmt.Fprintf(w, "%s was not paused: nothing changed\n", rec.Name)
		}
		return writeRecords(w, []breaker.Record{rec}, now)
	}
	if len(names) == 0 {
		var err error
		if names, err = scanNames(ctx, api, table); err != nil {
			return err
		}
	}
	recs := make([]breaker.Record, 0, len(names))
	for _, n := range names {
		rec, err := store.Load(ctx, n)
		if err != nil {
			return fmt.Errorf("status %s: %w", n, err)
		}
		recs = append(recs, rec)
	}
	if len(recs) == 0 {
		fmt.Fprintln(w, "no breakers yet: every destination is closed and not paused")
		return nil
	}
	return writeRecords(w, recs, now)
}

// scanNames returns the names of every breaker in the table, sorted: one Scan of the
// key attribute (the table holds one small item per destination, and the rate limit
// windows of the last minute, which it skips).
func scanNames(ctx context.Context, api API, table string) ([]string, error) {
	var names []string
	in := &dynamodb.ScanInput{
		TableName:                aws.String(table),
		ProjectionExpression:     aws.String("#n"),
		ExpressionAttributeNames: map[string]string{"#n": dynamostore.AttrName},
	}
	for {
		out, err := api.Scan(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("list breakers of %s: %w", table, err)
		}
		for _, item := range out.Items {
			if v, ok := item[dynamostore.AttrName].(*types.AttributeValueMemberS); ok && !ratelimit.IsWindowName(v.Value) {
				names = append(names, v.Value)
			}
		}
		if len(out.LastEvaluatedKey) == 0 {
			break
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
	slices.Sort(names)
	return names, nil
}

// writeRecords prints one line per breaker.
func writeRecords(w io.Writer, recs []breaker.Record, now time.Time) error {
	for _, r := range recs {
		line := fmt.Sprintf("%-30s %-9s", r.Name, r.State)
		switch r.State {
		case breaker.Open:
			line += " until " + stamp(r.OpenUntil)
		case breaker.HalfOpen:
			line += " probing until " + stamp(r.ProbeUntil)
		case breaker.Closed:
			if r.Failures > 0 {
				line += fmt.Sprintf(" %d failures since %s", r.Failures, stamp(r.WindowStart))
			}
		}
		if r.Paused() {
			line += fmt.Sprintf("  PAUSED since %s (%s)", stamp(r.PausedAt), now.Sub(r.PausedAt).Round(time.Second))
		}
		if _, err := fmt.Fprintf(w, "%s  generation %d\n", line, r.Generation); err != nil {
			return err
		}
	}
	return nil
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// localBreaker is a breaker as the local runner's API answers it.
type localBreaker struct {
	Dependency string     `json:"dependency"`
	State      string     `json:"state"`
	Failures   int        `json:"failures"`
	RetryAt    *time.Time `json:"retryAt"`
	Paused     bool       `json:"paused"`
	PausedAt   *time.Time `json:"pausedAt"`
	Error      string     `json:"error"`
}

// runLocal asks a local runner: POST /api/destinations/{name}/pause|resume, or
// GET /api/status for the breakers.
func runLocal(ctx context.Context, w io.Writer, base, op string, names []string) error {
	base = strings.TrimRight(base, "/")
	var bs []localBreaker
	if op == "status" {
		var st struct {
			Breakers []localBreaker `json:"breakers"`
		}
		if err := askLocal(ctx, http.MethodGet, base+"/api/status?recent=1", &st); err != nil {
			return err
		}
		for _, b := range st.Breakers {
			if len(names) == 0 || slices.Contains(names, b.Dependency) {
				bs = append(bs, b)
			}
		}
	} else {
		var b localBreaker
		if err := askLocal(ctx, http.MethodPost, base+"/api/destinations/"+url.PathEscape(names[0])+"/"+op, &b); err != nil {
			return err
		}
		bs = append(bs, b)
	}
	for _, b := range bs {
		line := fmt.Sprintf("%-30s %-9s", b.Dependency, b.State)
		if b.RetryAt != nil {
			line += " until " + stamp(*b.RetryAt)
		}
		if b.Failures > 0 {
			line += fmt.Sprintf(" %d failures", b.Failures)
		}
		if b.Paused && b.PausedAt != nil {
			line += "  PAUSED since " + stamp(*b.PausedAt)
		}
		if b.Error != "" {
			line += "  error: " + b.Error
		}
		if _, err := fmt.Fprintln(w, line); err != nil {
			return err
		}
	}
	return nil
}

func askLocal(ctx context.Context, method, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return usageError{err}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("local runner: %w (is `make dev` running?)", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return fmt.Errorf("local runner: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("local runner answered %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("local runner answer: %w", err)
	}
	return nil
}
