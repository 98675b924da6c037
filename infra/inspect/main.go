// Command inspect answers "where is my event" (`make inspect KEY=stripe:evt_…`): the
// event's state, attempts, completed steps, last error, timestamps, and whether a
// copy waits in the dead-letter queue, from one read of its idempotency record. It
// never receives from the dead-letter queue: the record says the event was
// dead-lettered.
//
//	inspect [flags] KEY
//
//	-table          idempotency table (default $TENAZ_IDEMPOTENCY_TABLE)
//	-stack-outputs  file with the stack's outputs as `sam list stack-outputs --output json`
//	                prints them ("-": standard input); its IdempotencyTableName is the table
//	-region         AWS region of the table (default: the AWS environment's)
//	-local          base URL of a local runner (`make dev`): ask its GET /api/inspect instead
//	-json           print the report as JSON (default: text)
//
// AWS credentials and region come from the usual AWS environment (AWS_PROFILE,
// AWS_REGION, …). Exit status: 0 when answered (even "unknown"), 1 when the lookup
// failed (retrying may help when the store was unavailable), 2 on bad usage.
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
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/tenaz/tenaz/infra/internal/stackout"
	"github.com/tenaz/tenaz/shared/config"
	"github.com/tenaz/tenaz/shared/idempotency/dynamostore"
	"github.com/tenaz/tenaz/shared/inspect"
)

// timeout bounds the whole lookup.
const timeout = 30 * time.Second

// tableOutput is the stack output that names the idempotency table (template.yaml).
const tableOutput = "IdempotencyTableName"

func main() {
	table := flag.String("table", os.Getenv(config.EnvIdempotencyTable), "idempotency table")
	outputs := flag.String("stack-outputs", "", "stack outputs JSON file (`sam list stack-outputs --output json`), - for stdin")
	region := flag.String("region", "", "AWS region of the table")
	local := flag.String("local", "", "base URL of a local runner")
	asJSON := flag.Bool("json", false, "print JSON")
	flag.Parse()
	if flag.NArg() != 1 || strings.TrimSpace(flag.Arg(0)) == "" {
		fmt.Fprintln(os.Stderr, "usage: inspect [-table T | -stack-outputs FILE | -local URL] [-json] source:id")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	rep, err := lookup(ctx, flag.Arg(0), *table, *outputs, *region, *local)
	if err == nil {
		err = write(os.Stdout, rep, *asJSON)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "inspect:", err)
		var u usageError
		if errors.As(err, &u) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// usageError is a setup the command cannot work with.
type usageError struct{ error }

func lookup(ctx context.Context, key, table, outputs, region, local string) (inspect.Report, error) {
	if local != "" {
		return askLocal(ctx, local, key)
	}
	if outputs != "" {
		t, err := stackout.Read(outputs, tableOutput)
		if err != nil {
			return inspect.Report{}, usageError{err}
		}
		table = t
	}
	if table == "" {
		return inspect.Report{}, usageError{fmt.Errorf("no table: set %s, -table or -stack-outputs", config.EnvIdempotencyTable)}
	}
	cfg, err := config.AWS(ctx)
	if err != nil {
		return inspect.Report{}, err
	}
	if region != "" {
		cfg.Region = region
	}
	store := dynamostore.New(table, dynamodb.NewFromConfig(cfg), dynamostore.Options{})
	return inspect.New(store, time.Now).Inspect(ctx, key)
}

// askLocal asks a local runner's GET /api/inspect.
func askLocal(ctx context.Context, base, key string) (inspect.Report, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(base, "/")+"/api/inspect?key="+url.QueryEscape(key), nil)
	if err != nil {
		return inspect.Report{}, usageError{err}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return inspect.Report{}, fmt.Errorf("local runner at %s: %w (is `make dev` running?)", base, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return inspect.Report{}, fmt.Errorf("local runner: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return inspect.Report{}, fmt.Errorf("local runner answered %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	var rep inspect.Report
	if err := json.Unmarshal(body, &rep); err != nil {
		return inspect.Report{}, fmt.Errorf("local runner answer: %w", err)
	}
	return rep, nil
}

func write(w io.Writer, rep inspect.Report, asJSON bool) error {
	if !asJSON {
		return rep.WriteText(w)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}
