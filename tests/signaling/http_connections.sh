#!/usr/bin/env bash
# Plain HTTP requests must not leave connections (and their file descriptors)
# behind in the service: 60 requests, then the open descriptors of
# `livepipe serve` are back where they started.
set -euo pipefail
livepipe=$1
tmp=$(mktemp -d)
pid=
cleanup() {
  [[ -n $pid ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
for attempt in $(seq 20); do
  port=$(shuf -i 20000-60000 -n 1)
  ss -ltn "sport = :$port" | grep -q LISTEN || break
done
"$livepipe" serve --listen "127.0.0.1:$port" >"$tmp/log" 2>&1 &
pid=$!
for i in $(seq 100); do
  curl -s -o /dev/null "http://127.0.0.1:$port/healthz" && break
  sleep 0.1
done
curl -sf -o /dev/null "http://127.0.0.1:$port/healthz" || { cat "$tmp/log"; exit 1; }
sleep 0.5
before=$(ls "/proc/$pid/fd" | wc -l)
for i in $(seq 20); do
  for path in /healthz /metrics /; do
    curl -s -o /dev/null "http://127.0.0.1:$port$path"
  done
done
for i in $(seq 50); do
  after=$(ls "/proc/$pid/fd" | wc -l)
  ((after <= before)) && break
  sleep 0.1
done
echo "open descriptors: before $before, after 60 requests $after"
((after <= before)) || { echo "connections leaked"; exit 1; }
