#!/usr/bin/env bash
# Measures Tenaz's hot paths; `make bench` runs it. Prints one table on stdout:
#
#   - every Go benchmark of shared/processor, shared/idempotency, shared/webhook and
#     shared/ingest (when it has any): ns/op, B/op, allocs/op, and DynamoDB calls per
#     record where a benchmark counts them (the loopback DynamoDB transport);
#   - DynamoDB calls per record measured on moto server through the processor and the
#     DynamoDB store (TestDynamoCallsPerRecord): happy path (target <= 2: claim +
#     complete) and duplicate (target = 1: the claim alone), and whether each is met.
#
# BENCHTIME (default 500ms) is go test's -benchtime. Raw output and the table are kept
# in .run/bench/. Exits non-zero when a benchmark or the moto test fails or a target
# is missed. Progress goes to stderr.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export PATH="$root/.tools/bin:$PATH"
export SAM_CLI_TELEMETRY=0
BENCHTIME=${BENCHTIME:-500ms}
run_dir="$root/.run/bench"

say() { echo "bench: $*" >&2; }
die() { say "$*"; exit 1; }

# A moto server left by an interrupted run of this script is stopped before the
# directory is cleaned.
[ -f "$run_dir/moto/moto.pid" ] && infra/moto.sh stop "$run_dir/moto"
rm -rf "$run_dir" && mkdir -p "$run_dir"

bash infra/setup.sh >&2 || die "setup failed"

# --- Go benchmarks -----------------------------------------------------------------
pkgs=()
for pkg in shared/processor shared/idempotency shared/webhook shared/ingest; do
  if grep -qsE '^func Benchmark' "$pkg"/*_test.go; then
    pkgs+=("./$pkg")
  elif [ "$pkg" != shared/ingest ]; then
    die "$pkg has no benchmarks"
  fi
done
say "go benchmarks of ${pkgs[*]} (benchtime $BENCHTIME)"
failed=0
if ! go test -run '^$' -bench . -benchmem -count 1 -benchtime "$BENCHTIME" "${pkgs[@]}" >"$run_dir/bench.txt" 2>&1; then
  say "a benchmark failed:"; grep -vE '^(goos|goarch|cpu|PASS)' "$run_dir/bench.txt" | tail -n 30 >&2
  failed=1
fi

# --- DynamoDB calls per record on moto ---------------------------------------------
stop_moto() { [ -f "$run_dir/moto/moto.pid" ] && infra/moto.sh stop "$run_dir/moto"; }
trap stop_moto EXIT INT TERM
say "moto server"
endpoint=$(infra/moto.sh start "$run_dir/moto") || die "moto server did not start"
say "DynamoDB calls per record on $endpoint"
if ! TENAZ_TEST_ENDPOINT="$endpoint" TENAZ_TEST_RUN_DIR="$run_dir" \
  go test -tags integration -p 1 -count 1 -run '^TestDynamoCallsPerRecord$' -v ./shared/processor >"$run_dir/ddb-calls.log" 2>&1; then
  say "TestDynamoCallsPerRecord failed:"; tail -n 30 "$run_dir/ddb-calls.log" >&2
  failed=1
fi
stop_moto
trap - EXIT INT TERM

# --- the table ---------------------------------------------------------------------
calls=$run_dir/ddb-calls.txt
[ -f "$calls" ] || { echo "missing: no DynamoDB figures" >"$calls"; failed=1; }
awk -v calls="$calls" '
  function row(name, ns, b, allocs, per, target, met) {
    printf "%-62s %12s %10s %10s %13s %7s %4s\n", name, ns, b, allocs, per, target, met
  }
  BEGIN {
    row("measure", "ns/op", "B/op", "allocs/op", "ddb calls/rec", "target", "met")
    while ((getline line < calls) > 0) { split(line, f, " "); ddb[f[1]] = f[2] }
  }
  $1 == "pkg:" { n = split($2, p, "/"); pkg = p[n]; next }
  $1 ~ /^Benchmark/ {
    name = $1; sub(/^Benchmark/, "", name); sub(/-[0-9]+$/, "", name)
    ns = b = allocs = per = "-"
    for (i = 3; i < NF; i += 2) {
      if ($(i+1) == "ns/op") ns = $i
      else if ($(i+1) == "B/op") b = $i
      else if ($(i+1) == "allocs/op") allocs = $i
      else if ($(i+1) == "ddb-calls/op") per = sprintf("%.2f", $i)
    }
    row(pkg " " name, ns, b, allocs, per, "-", "-")
    next
  }
  END {
    happy = ("happy_per_record" in ddb) ? ddb["happy_per_record"] : "missing"
    dup = ("duplicate_per_record" in ddb) ? ddb["duplicate_per_record"] : "missing"
    okh = (happy != "missing" && happy + 0 <= 2) ? "yes" : "no"
    okd = (dup != "missing" && dup + 0 == 1) ? "yes" : "no"
    row("DynamoDB on moto, happy path (" ddb["records"] " records; claim + complete)", "-", "-", "-", happy, "<= 2", okh)
    row("DynamoDB on moto, duplicate (" ddb["records"] " records; claim)", "-", "-", "-", dup, "= 1", okd)
    if (okh != "yes" || okd != "yes") exit 3
  }
' "$run_dir/bench.txt" | tee "$run_dir/table.txt"
[ "${PIPESTATUS[0]}" = 0 ] || failed=1
exit $failed
