#!/usr/bin/env bash
# Runs every Tenaz test suite; `make test` and .ci/run call it.
#
#   lint         gofmt, go vet (with and without the integration tag), staticcheck
#   unit         go test -race ./... on the in-memory adapters
#   fuzz         every fuzz target for FUZZTIME (default 5s) on its committed corpus
#                (one more run when Go's engine fails on its own deadline alone)
#   integration  go test -tags integration -p 1 ./...: the AWS adapters on moto server
#                and the end-to-end tests (bootstrap binaries under the Lambda Runtime
#                Interface Emulator, on moto)
#   signers      go test -tags signers ./infra/signers: every webhook preset against
#                signatures made by the provider's own library (npm, PyPI; versions
#                printed) or its documented recipe, in both directions
#   template     sam validate --lint, cfn-lint, sam build
#
# SUITES="unit integration" runs a subset (default: all). A missing tool is an error,
# never a silent skip; a skipped integration test fails the run.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export PATH="$root/.tools/bin:$PATH"
export SAM_CLI_TELEMETRY=0
FUZZTIME=${FUZZTIME:-5s}
SUITES=${SUITES:-lint unit fuzz signers integration template}
run_dir="$root/.run/test"
rm -rf "$run_dir" && mkdir -p "$run_dir"

declare -a summary=()
failed=0
total_pass=0
total_fail=0

note() { printf '\n==== %s\n' "$*"; }
record() { # suite status detail
  summary+=("$(printf '%-12s %-5s %s' "$1" "$2" "$3")")
  [ "$2" = "ok" ] || failed=1
}

# count_tests LOG: sets PASS SKIP FAIL from `go test -v` output (top-level and subtests).
count_tests() {
  PASS=$(grep -cE '^\s*--- PASS' "$1" || true)
  SKIP=$(grep -cE '^\s*--- SKIP' "$1" || true)
  FAIL=$(grep -cE '^\s*--- FAIL' "$1" || true)
  total_pass=$((total_pass + PASS))
  total_fail=$((total_fail + FAIL))
}

has() { [[ " $SUITES " == *" $1 "* ]]; }

stop_services() {
  [ -f "$run_dir/moto/moto.pid" ] && infra/moto.sh stop "$run_dir/moto"
  pkill -f "$run_dir/" 2>/dev/null || true
}
trap stop_services EXIT INT TERM

note "setup"
bash infra/setup.sh || { echo "setup failed"; exit 1; }

if has lint; then
  note "lint: gofmt, go vet, staticcheck"
  ok=1
  bad=$(gofmt -l $(git ls-files '*.go'; git ls-files --others --exclude-standard '*.go'))
  if [ -n "$bad" ]; then echo "gofmt would change:"; echo "$bad"; ok=0; fi
  go vet ./... || ok=0
  go vet -tags integration ./... || ok=0
  go vet -tags signers ./infra/signers/ || ok=0
  staticcheck ./... || ok=0
  staticcheck -tags integration ./... || ok=0
  staticcheck -tags signers ./infra/signers/ || ok=0
  if [ $ok = 1 ]; then record lint ok "gofmt, vet, staticcheck clean"; else record lint FAIL "see above"; fi
fi

if has unit; then
  note "unit: go test -race ./..."
  log="$run_dir/unit.log"
  go test -race -count=1 -v ./... >"$log" 2>&1
  rc=$?
  grep -E '^(ok|FAIL|---|panic|\s+\S+_test\.go)' "$log" | grep -vE '^\s*--- (PASS|SKIP)' | tail -n 80
  count_tests "$log"
  if [ $rc = 0 ]; then record unit ok "$PASS passed, $SKIP skipped"; else record unit FAIL "$PASS passed, $FAIL failed (log: $log)"; fi
fi

# fuzz_one PKG NAME LOG runs one fuzz target for FUZZTIME.
fuzz_one() { go test -run='^$' -fuzz="^${2}\$" -fuzztime="$FUZZTIME" "$1" >"$3" 2>&1; }
# fuzz_deadline_race LOG: the run failed only because the engine's deadline fired
# (the target's single failure message is "context deadline exceeded") and it wrote
# no failing input, printed no panic and no test error.
fuzz_deadline_race() {
  grep -q '^    context deadline exceeded$' "$1" &&
    [ "$(grep -c -- '^--- FAIL' "$1")" = 1 ] &&
    ! grep -qE 'Failing input written to|panic:|_test\.go:[0-9]+:' "$1"
}

if has fuzz; then
  note "fuzz: every target for $FUZZTIME"
  ok=1; n=0
  while IFS= read -r line; do
    file=${line%%:*}; name=$(sed -E 's/^func (Fuzz[A-Za-z0-9_]*).*/\1/' <<<"${line#*:}")
    pkg="./$(dirname "$file")"
    n=$((n + 1))
    log="$run_dir/fuzz-$name.log"
    if fuzz_one "$pkg" "$name" "$log"; then
      echo "fuzz $pkg $name: ok"
    elif fuzz_deadline_race "$log"; then
      # Go's fuzzing coordinator can report its own -fuzztime deadline as a failure
      # (golang/go#75804): a bare "context deadline exceeded", no failing input
      # written. That alone earns one more run; any other failure, or a second one,
      # fails the suite.
      echo "fuzz $pkg $name: the fuzzing engine stopped on its own deadline with no failing input; running it again"
      cp "$log" "$log.first"
      if fuzz_one "$pkg" "$name" "$log"; then
        echo "fuzz $pkg $name: ok"
      else
        echo "fuzz $pkg $name: FAILED"; tail -n 30 "$log"; ok=0
      fi
    else
      echo "fuzz $pkg $name: FAILED"; tail -n 30 "$log"; ok=0
    fi
  done < <(grep -rnE '^func Fuzz[A-Za-z0-9_]*\(' --include='*_test.go' shared functions infra | sed -E 's/^([^:]+):[0-9]+:/\1:/')
  if [ $n = 0 ]; then record fuzz FAIL "no fuzz targets found"
  elif [ $ok = 1 ]; then record fuzz ok "$n targets, $FUZZTIME each"; else record fuzz FAIL "a target failed"; fi
fi

if has signers; then
  note "signers: every preset against the providers' own signers"
  log="$run_dir/signers.log"
  go test -tags signers -count=1 -v ./infra/signers/ >"$log" 2>&1
  rc=$?
  # The libraries and their versions, and what signed and verified each preset.
  grep -E 'libraries: |signers_test\.go:[0-9]+: [a-z0-9-]+: ' "$log" | sed -E 's/^\s*signers_test\.go:[0-9]+: //'
  grep -E '^(ok|FAIL|panic|\s+\S+_test\.go)' "$log" | grep -vE 'libraries: |signers_test\.go:[0-9]+: [a-z0-9-]+: ' | tail -n 40
  count_tests "$log"
  if [ $rc = 0 ]; then record signers ok "$PASS passed"; else record signers FAIL "$PASS passed, $FAIL failed (log: $log)"; fi
fi

if has integration; then
  note "integration: moto server + Lambda Runtime Interface Emulator"
  command -v aws-lambda-rie >/dev/null || { record integration FAIL "aws-lambda-rie missing (make setup)"; }
  if endpoint=$(infra/moto.sh start "$run_dir/moto"); then
    echo "moto server at $endpoint"
    log="$run_dir/integration.log"
    TENAZ_TEST_ENDPOINT="$endpoint" TENAZ_RIE="$(command -v aws-lambda-rie)" TENAZ_TEST_RUN_DIR="$run_dir" \
      go test -tags integration -p 1 -count=1 -v ./... >"$log" 2>&1
    rc=$?
    grep -E '^(ok|FAIL|---|panic|\s+\S+_test\.go)' "$log" | grep -vE '^\s*--- PASS' | tail -n 80
    count_tests "$log"
    e2e=$(grep -cE '^\s*--- PASS: TestE2E' "$log" || true)
    moto=$(grep -cE '^\s*--- PASS: Test\S*(Moto|Integration|SQS|Dynamo)' "$log" || true)
    if [ $rc != 0 ]; then record integration FAIL "$PASS passed, $FAIL failed (log: $log)"
    elif [ "$SKIP" != 0 ]; then record integration FAIL "$SKIP tests skipped; integration tests must not skip"; grep -E '^\s*--- SKIP' "$log"
    elif [ "$e2e" = 0 ]; then record integration FAIL "no end-to-end test ran"
    else record integration ok "$PASS passed ($moto on moto, $e2e end-to-end on RIE + moto), 0 skipped"; fi
    infra/moto.sh stop "$run_dir/moto"
  else
    record integration FAIL "moto server did not start"
  fi
fi

if has template; then
  note "template: sam validate --lint, cfn-lint, sam build"
  if bash infra/check-template.sh; then record template ok "sam validate --lint, cfn-lint, sam build"; else record template FAIL "see above"; fi
fi

note "summary"
printf '%s\n' "${summary[@]}"
echo
echo "tests: $total_pass passed, $total_fail failed"
exit $failed
