#!/usr/bin/env bash
# Measures Tenaz's hot paths; `make bench` runs it. Prints one table on stdout:
#
#   - every Go benchmark of shared/processor, shared/idempotency, shared/breaker,
#     shared/webhook and shared/ingest (when it has any): ns/op, B/op, allocs/op,
#     DynamoDB calls per record where a benchmark counts them (the loopback DynamoDB
#     transport), and breaker store reads and writes per Allow + Report where a
#     benchmark counts them (shared/breaker: the happy path, closed, cache warm);
#     any other custom metric goes to the last column, never dropped;
#   - DynamoDB calls per record measured on moto server through the processor and the
#     DynamoDB store (TestDynamoCallsPerRecord): happy path (target <= 2: claim +
#     complete) and duplicate (target = 1: the claim alone), and whether each is met;
#   - breaker store reads and writes per processed record at steady state: the most
#     any shared/breaker benchmark measured (a record costs one Allow + Report),
#     target <= 0.01 reads and 0 writes, and whether it is met. A breaker reads its
#     state once per cache TTL (1 s) per dependency per container, so reads per record
#     are 1 / (records a second per dependency per container): BenchmarkHappyPath runs
#     at 1000 a second (its clock moves 1 ms per call), the parallel one at full speed
#     on the real clock; the target holds from 100 records a second.
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
for pkg in shared/processor shared/idempotency shared/breaker shared/webhook shared/ingest; do
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
  function row(name, ns, b, allocs, per, reads, writes, target, met, other) {
    printf "%-62s %12s %10s %10s %13s %9s %9s %11s %4s", name, ns, b, allocs, per, reads, writes, target, met
    if (other != "") printf "  %s", other
    printf "\n"
  }
  BEGIN {
    row("measure", "ns/op", "B/op", "allocs/op", "ddb calls/rec", "reads/op", "writes/op", "target", "met", "")
    while ((getline line < calls) > 0) { split(line, f, " "); ddb[f[1]] = f[2] }
  }
  $1 == "pkg:" { n = split($2, p, "/"); pkg = p[n]; next }
  $1 ~ /^Benchmark/ {
    name = $1; sub(/^Benchmark/, "", name); sub(/-[0-9]+$/, "", name)
    ns = b = allocs = per = reads = writes = "-"; other = ""
    for (i = 3; i < NF; i += 2) {
      unit = $(i+1)
      if (unit == "ns/op") ns = $i
      else if (unit == "B/op") b = $i
      else if (unit == "allocs/op") allocs = $i
      else if (unit == "ddb-calls/op") per = sprintf("%.2f", $i)
      else if (unit == "reads/op") reads = $i
      else if (unit == "writes/op") writes = $i
      else other = other (other == "" ? "" : ", ") $i " " unit
    }
    # Breaker store calls per Allow + Report: the worst benchmark sets the steady state.
    if (pkg == "breaker" && reads != "-" && writes != "-") {
      brk++
      if (brk == 1 || reads + 0 > brkReads + 0) brkReads = reads
      if (brk == 1 || writes + 0 > brkWrites + 0) brkWrites = writes
    }
    row(pkg " " name, ns, b, allocs, per, reads, writes, "-", "-", other)
    next
  }
  END {
    happy = ("happy_per_record" in ddb) ? ddb["happy_per_record"] : "missing"
    dup = ("duplicate_per_record" in ddb) ? ddb["duplicate_per_record"] : "missing"
    okh = (happy != "missing" && happy + 0 <= 2) ? "yes" : "no"
    okd = (dup != "missing" && dup + 0 == 1) ? "yes" : "no"
    okb = (brk > 0 && brkReads + 0 <= 0.01 && brkWrites + 0 == 0) ? "yes" : "no"
    if (brk == 0) brkReads = brkWrites = "missing"
    row("DynamoDB on moto, happy path (" ddb["records"] " records; claim + complete)", "-", "-", "-", happy, "-", "-", "<= 2", okh, "")
    row("DynamoDB on moto, duplicate (" ddb["records"] " records; claim)", "-", "-", "-", dup, "-", "-", "= 1", okd, "")
    row("breaker reads / writes per processed record at steady state", "-", "-", "-", "-", brkReads, brkWrites, "<=0.01 / 0", okb, "")
    if (okh != "yes" || okd != "yes" || okb != "yes") exit 3
  }
' "$run_dir/bench.txt" | tee "$run_dir/table.txt"
[ "${PIPESTATUS[0]}" = 0 ] || failed=1
exit $failed
