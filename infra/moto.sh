#!/usr/bin/env bash
# Starts or stops a moto server (AWS API emulator) on a free loopback port.
#
#   infra/moto.sh start DIR   start it; DIR gets moto.pid, moto.port, moto.log;
#                             prints the endpoint (http://127.0.0.1:PORT) once it answers
#   infra/moto.sh stop DIR    stop the server started with the same DIR
#
# Uses the project venv (.venv, made by `make setup`); a missing moto_server is an error.
# The server is moto_server run through infra/moto/server.py, which makes each
# DynamoDB item request atomic, as DynamoDB's conditional writes are.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cmd=${1:-}; dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }
mkdir -p "$dir"

case "$cmd" in
start)
  moto="$root/.venv/bin/moto_server"
  [ -x "$moto" ] || { echo "moto.sh: $moto not found; run 'make setup'" >&2; exit 1; }
  python="$root/.venv/bin/python"
  port=$("$root/.venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  # Credentials and region are fake: moto accepts any.
  AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1 \
    nohup "$python" "$root/infra/moto/server.py" -H 127.0.0.1 -p "$port" >"$dir/moto.log" 2>&1 &
  echo $! >"$dir/moto.pid"
  echo "$port" >"$dir/moto.port"
  for _ in $(seq 1 150); do
    if curl -fsS -o /dev/null "http://127.0.0.1:$port/moto-api/" 2>/dev/null; then
      echo "http://127.0.0.1:$port"
      exit 0
    fi
    kill -0 "$(cat "$dir/moto.pid")" 2>/dev/null || { echo "moto.sh: moto server exited:" >&2; cat "$dir/moto.log" >&2; exit 1; }
    sleep 0.2
  done
  echo "moto.sh: moto server did not answer on port $port within 30 s" >&2
  exit 1
  ;;
stop)
  if [ -f "$dir/moto.pid" ]; then
    pid=$(cat "$dir/moto.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$dir/moto.pid"
  fi
  ;;
*) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
