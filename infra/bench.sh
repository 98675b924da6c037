#!/usr/bin/env bash
# Measures Tenaz and prints one table; `make bench` runs it. Every figure is measured
# in this run, beside its baseline where it has one:
#
#   - own-code cost per webhook at ingest and per record in the processor (ns, allocs):
#     with the in-memory adapters, and with the real SDK clients over a loopback fake
#     transport beside an SDK-only floor (the same SDK calls alone), as a ratio; own
#     code with the SDK = total - floor;
#   - one ingest invocation as Lambda runs it: the Lambda runtime's decode of the API
#     Gateway event and encode of the answer (aws-lambda-go), and the whole invocation,
#     beside ingest's own work on the decoded event;
#   - billable AWS requests per webhook by scenario (happy, happy one at a time,
#     happy with 100 KB bodies (inline, SQS in 64 KB chunks) and with 1 MB bodies
#     (through the body bucket: S3 PUT and GET), duplicate, transient retry, breaker
#     open, permanent failure, replay), counted by an SDK middleware while the real
#     pipeline runs on moto server
#     (shared/internal/billing), and DynamoDB calls per record through the store on
#     moto (TestDynamoCallsPerRecord);
#   - the stripped linux/arm64 size of each bootstrap and its start-up time to the
#     first Runtime API request, beside a hello-world Go Lambda built the same way
#     (infra/bench/startup);
#   - the cost of a million webhooks per scenario (2 KB; 100 KB and 1 MB for the
#     large-body ones), via the HTTP API and via a function URL, and the claim
#     check's break-even behind the inline limit, from those counts, the template's settings, the measured start-up
#     and the dated price table infra/bench/prices.json, and the idle cost per month
#     at the template's defaults, item by item, against <= $1.00 (infra/bench/cost).
#
# A row with a target says whether it is met; a missed target is printed, not hidden,
# and does not fail the run. Own code's time and allocations have no target: they are
# shown as information. BENCHTIME (default 1s) is go test's -benchtime;
# each benchmark runs COUNT times (default 3) and the table takes the median.
# Raw output is kept in .run/bench/ (cost.txt has the cost breakdown). Exits non-zero
# when a measurement fails. Progress goes to stderr.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export PATH="$root/.tools/bin:$PATH"
export SAM_CLI_TELEMETRY=0
BENCHTIME=${BENCHTIME:-1s}
COUNT=${COUNT:-3}
run_dir="$root/.run/bench"

say() { echo "bench: $*" >&2; }
die() { say "$*"; exit 1; }

# A moto server left by an interrupted run of this script is stopped before the
# directory is cleaned.
[ -f "$run_dir/moto/moto.pid" ] && infra/moto.sh stop "$run_dir/moto"
rm -rf "$run_dir" && mkdir -p "$run_dir"

bash infra/setup.sh >&2 || die "setup failed"
failed=0

# --- Go benchmarks -----------------------------------------------------------------
pkgs=(./shared/ingest ./shared/processor ./shared/idempotency ./shared/breaker ./shared/webhook)
say "go benchmarks of ${pkgs[*]} (benchtime $BENCHTIME, $COUNT runs each)"
if ! go test -run '^$' -bench . -benchmem -count "$COUNT" -benchtime "$BENCHTIME" "${pkgs[@]}" >"$run_dir/bench.txt" 2>&1; then
  say "a benchmark failed:"; grep -vE '^(goos|goarch|cpu|PASS)' "$run_dir/bench.txt" | tail -n 30 >&2
  failed=1
fi

# --- requests on moto ----------------------------------------------------------------
stop_moto() { [ -f "$run_dir/moto/moto.pid" ] && infra/moto.sh stop "$run_dir/moto"; }
trap stop_moto EXIT INT TERM
say "moto server"
endpoint=$(infra/moto.sh start "$run_dir/moto") || die "moto server did not start"
say "billable requests per webhook and DynamoDB calls per record on $endpoint"
if ! TENAZ_TEST_ENDPOINT="$endpoint" TENAZ_TEST_RUN_DIR="$run_dir" \
  go test -tags integration -p 1 -count 1 -run '^(TestDynamoCallsPerRecord|TestBillableRequestsPerWebhook)$' -v \
    ./shared/processor ./shared/internal/billing >"$run_dir/moto.log" 2>&1; then
  say "a moto measurement failed:"; grep -E -- '--- FAIL|_test.go' "$run_dir/moto.log" | tail -n 30 >&2
  failed=1
fi
stop_moto
trap - EXIT INT TERM

# --- binaries and start-up -------------------------------------------------------------
say "bootstrap sizes and start-up times"
if ! go run ./infra/bench/startup -out "$run_dir" >"$run_dir/startup.txt" 2>"$run_dir/startup.log"; then
  say "start-up measurement failed:"; tail -n 20 "$run_dir/startup.log" >&2
  failed=1
fi

# --- cost ----------------------------------------------------------------------------
say "cost per million webhooks"
if ! go run ./infra/bench/cost -requests "$run_dir/requests.json" -startup "$run_dir/startup.json" \
  -out "$run_dir/cost.json" >"$run_dir/cost.txt" 2>"$run_dir/cost.log"; then
  say "cost model failed:"; cat "$run_dir/cost.log" >&2
  failed=1
fi

# --- the table -------------------------------------------------------------------------
# Built, not `go run`: go run reports any non-zero exit as 1, and 3 must stay 3.
go build -o "$run_dir/report" ./infra/bench/report || die "cannot build the report"
"$run_dir/report" -dir "$run_dir" | tee "$run_dir/table.txt"
case "${PIPESTATUS[0]}" in
  0 | 3) ;; # 3: a target is missed; the table says which
  *) failed=1 ;;
esac
echo "(raw figures and the cost breakdown: $run_dir)"
exit $failed
