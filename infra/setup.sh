#!/usr/bin/env bash
# Makes the tool environment the tests and the template checks use (`make setup`):
#
#   .venv/        python3 venv with requirements-dev.txt (moto server, SAM CLI, cfn-lint);
#                 reinstalled only when that file changes (.venv/.requirements.sha256)
#   .tools/bin/   the pinned Go tools below, installed with `go install`
#   /usr/bin/chromium  Debian's chromium package (apt-get), for the live view's browser
#                 test, when it is missing
#   infra/signers/node_modules/  the providers' webhook libraries pinned by
#                 infra/signers/package-lock.json (`npm ci`), for the signers suite;
#                 reinstalled only when the lock file changes
#
# Idempotent and quick when nothing changed. Downloads come only from PyPI (pip), the
# Go module proxy (go install), the npm registry (npm ci) and Debian's package archive
# (apt-get). Anything missing
# or failing stops it with an error.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

# Pinned Go tools, package@version: the one place their versions are kept.
go_tools=(
  github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@v0.0.0-20261030222936-bef5c4ba774d
  honnef.co/go/tools/cmd/staticcheck@v0.8.2
)

# Programs the venv must provide once requirements-dev.txt is installed.
venv_programs=(moto_server sam cfn-lint)
# Python modules the venv must provide (the signers suite's slack_sdk).
venv_modules=(slack_sdk)

export SAM_CLI_TELEMETRY=0
export PIP_DISABLE_PIP_VERSION_CHECK=1

die() { echo "setup: $*" >&2; exit 1; }

for cmd in python3 go sha256sum node npm; do
  command -v "$cmd" >/dev/null || die "$cmd is required but not on PATH"
done
[ -f requirements-dev.txt ] || die "requirements-dev.txt not found in $root"

# --- Python venv -------------------------------------------------------------------
venv=$root/.venv
stamp=$venv/.requirements.sha256
want=$(sha256sum requirements-dev.txt | cut -d' ' -f1)

if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import sys' 2>/dev/null; then
  echo "setup: creating $venv"
  rm -rf "$venv"
  python3 -m venv "$venv" || die "python3 -m venv failed (is the venv module installed?)"
fi

if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
  echo "setup: installing requirements-dev.txt into .venv"
  rm -f "$stamp"
  "$venv/bin/python" -m pip install --quiet -r requirements-dev.txt ||
    die "pip install -r requirements-dev.txt failed"
  echo "$want" >"$stamp"
fi

for prog in "${venv_programs[@]}"; do
  [ -x "$venv/bin/$prog" ] || die "$venv/bin/$prog missing after installing requirements-dev.txt"
done
for mod in "${venv_modules[@]}"; do
  "$venv/bin/python" -c "import $mod" 2>/dev/null || die "python module $mod missing after installing requirements-dev.txt"
done

# --- npm: the providers' webhook libraries for the signers suite ---------------------
signers=$root/infra/signers
npm_stamp=$signers/node_modules/.lock.sha256
npm_want=$(sha256sum "$signers/package-lock.json" | cut -d' ' -f1)
if [ "$(cat "$npm_stamp" 2>/dev/null)" != "$npm_want" ]; then
  echo "setup: installing infra/signers/package-lock.json (npm ci)"
  (cd "$signers" && npm ci --no-audit --no-fund --loglevel=error) || die "npm ci in infra/signers failed"
  echo "$npm_want" >"$npm_stamp"
fi

# --- Go tools ----------------------------------------------------------------------
gobin=$root/.tools/bin
mkdir -p "$gobin"

# installed PKG VERSION BIN: whether BIN was built from PKG at VERSION.
installed() {
  local info
  info=$(go version -m "$3" 2>/dev/null) || return 1
  awk -v pkg="$1" -v ver="$2" '
    $1 == "path" && $2 == pkg { p = 1 }
    $1 == "mod" && $3 == ver { m = 1 }
    END { exit !(p && m) }' <<<"$info"
}

for tool in "${go_tools[@]}"; do
  pkg=${tool%@*}
  version=${tool##*@}
  bin=$gobin/$(basename "$pkg")
  if installed "$pkg" "$version" "$bin"; then
    continue
  fi
  echo "setup: installing $pkg@$version into .tools/bin"
  GOBIN=$gobin go install "$pkg@$version" || die "go install $pkg@$version failed"
  installed "$pkg" "$version" "$bin" || die "$bin is not $pkg@$version after go install"
done

# --- Browser -----------------------------------------------------------------------
# Headless Chromium from Debian's chromium package, for the live view's browser test
# (shared/local, TestE2EBrowser*). apt lists are refreshed only when the package is not
# found in them.
chromium=/usr/bin/chromium
if [ ! -x "$chromium" ]; then
  command -v apt-get >/dev/null || die "$chromium missing and no apt-get to install the chromium package"
  echo "setup: installing Debian's chromium package"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-cache show chromium >/dev/null 2>&1; then
    apt-get update -qq || die "apt-get update failed (needed to install chromium)"
  fi
  # A second try rides out a package manager busy with another install.
  apt-get install -y -qq chromium >/dev/null ||
    { sleep 10; apt-get install -y -qq chromium; } || die "apt-get install -y chromium failed"
  [ -x "$chromium" ] || die "$chromium missing after installing the chromium package"
fi

echo "setup: ok (.venv, .tools/bin, infra/signers/node_modules, $chromium)"
