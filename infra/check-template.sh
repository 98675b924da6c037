#!/usr/bin/env bash
# Checks template.yaml without AWS: `sam validate --lint`, `cfn-lint`, then `sam build`
# into a throwaway directory (default .run/sam-build, or $1), and that every function it
# built is a Linux arm64 executable named bootstrap. Uses the tools in .venv
# (`make setup`). Credentials and region are fake and nothing is sent anywhere.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

build_dir=${1:-$root/.run/sam-build}
sam=$root/.venv/bin/sam
cfn_lint=$root/.venv/bin/cfn-lint
for tool in "$sam" "$cfn_lint"; do
  [ -x "$tool" ] || { echo "check-template: $tool not found; run 'make setup'" >&2; exit 1; }
done

# No real AWS: a fixed region, fake credentials, no shared config or instance metadata.
export SAM_CLI_TELEMETRY=0
export AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
unset AWS_SESSION_TOKEN AWS_PROFILE
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
export AWS_EC2_METADATA_DISABLED=true

step() { echo "== $*"; }

step "sam validate --lint"
"$sam" validate --lint --template template.yaml

# Informational checks too: every stateful resource must state its deletion policy.
step "cfn-lint --include-checks I"
"$cfn_lint" --include-checks I -t template.yaml

step "sam build -> $build_dir"
rm -rf "$build_dir"
"$sam" build --template template.yaml --build-dir "$build_dir" --build-in-source

# is_arm64_elf FILE: a 64-bit little-endian ELF executable for AArch64 (e_machine 183).
is_arm64_elf() {
  local magic class data machine
  magic=$(od -An -tx1 -N4 "$1" | tr -d ' \n')
  class=$(od -An -tu1 -j4 -N1 "$1" | tr -d ' \n')
  data=$(od -An -tu1 -j5 -N1 "$1" | tr -d ' \n')
  machine=$(od -An -tu2 -j18 -N2 --endian=little "$1" | tr -d ' \n')
  [ "$magic" = 7f454c46 ] && [ "$class" = 2 ] && [ "$data" = 1 ] && [ "$machine" = 183 ]
}

# Every function in the built template must have an arm64 bootstrap in its CodeUri.
functions=$("$root/.venv/bin/python" - "$build_dir/template.yaml" <<'PY'
import sys, yaml
resources = yaml.safe_load(open(sys.argv[1]))["Resources"]
for name, res in resources.items():
    if res.get("Type") == "AWS::Serverless::Function":
        print(name, res["Properties"]["CodeUri"])
PY
)
[ -n "$functions" ] || { echo "check-template: no functions in $build_dir/template.yaml" >&2; exit 1; }
while read -r fn code; do
  bin=$build_dir/$code/bootstrap
  [ -f "$bin" ] || { echo "check-template: $fn: $bin was not built" >&2; exit 1; }
  [ -x "$bin" ] || { echo "check-template: $fn: $bin is not executable" >&2; exit 1; }
  is_arm64_elf "$bin" || { echo "check-template: $fn: $bin is not a Linux arm64 ELF executable" >&2; exit 1; }
  echo "ok $fn: $code/bootstrap is a Linux arm64 ELF executable, $(wc -c <"$bin") bytes"
done <<<"$functions"
echo "check-template: ok"
