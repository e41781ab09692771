#!/usr/bin/env bash
# CPU of a moderated stream in `livepipe serve`: the passthrough moderated
# description (webrtc-publish-moderated-passthrough) against the one that
# re-encodes (webrtc-publish-moderated), in the same run, with an unmoderated
# stream (webrtc-publish-fanout) as the floor. One 1280x720 30 fps WHIP
# publisher (our client, H.264 + Opus) at a time, one WHEP viewer, a local
# webhook answering allow every moderation interval (1 s); the server's CPU
# (utime + stime from /proc) over SECONDS per figure, in ROUNDS alternating
# rounds. Both moderated streams are measured while allowed and while an
# operator's forced blur holds (when the passthrough one re-encodes too).
# Loopback only: run it inside a fresh network namespace:
#   unshare -n sh -c 'ip link set lo up && bench/media/moderation_cpu.sh build/apps/livepipe [SECONDS] [ROUNDS]'
set -uo pipefail
livepipe=$(realpath "$1")
seconds=${2:-20}
rounds=${3:-2}
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d)
pids=()
cleanup() {
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill "${pids[i]}" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# The hook: allow, always.
python3 - "$dir/hook.port" "$here/../../tests/support" <<'PY' &
import sys
sys.path.insert(0, sys.argv[2])
import hookserver

class Allow(hookserver.Handler):
    def do_POST(self):
        self.body()
        self.answer(200, b'{"verdict": "allow"}')

hookserver.serve(Allow, sys.argv[1])
PY
pids+=($!)
for _ in $(seq 50); do [[ -s $dir/hook.port ]] && break; sleep 0.1; done
port=$(free_port)
base=http://127.0.0.1:$port
cat >"$dir/config.json" <<JSON
{"media": {"iceAddresses": ["127.0.0.1"],
           "rules": [{"match": "pass-*", "description": "webrtc-publish-moderated-passthrough"},
                     {"match": "reenc-*", "description": "webrtc-publish-moderated"}]},
 "moderation": {"hookUri": "http://127.0.0.1:$(cat "$dir/hook.port")/hook", "intervalMs": 1000}}
JSON
"$livepipe" serve --config "$dir/config.json" --listen "127.0.0.1:$port" >"$dir/serve.log" 2>&1 &
serve=$!
pids+=($serve)
for _ in $(seq 50); do curl -sf "$base/healthz" >/dev/null && break; sleep 0.1; done

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
cpu() {  # percent of one core used by the server over $seconds
  local before after
  before=$(ticks "$serve")
  sleep "$seconds"
  after=$(ticks "$serve")
  echo "scale=2; ($after - $before) * 100 / $hz / $seconds" | bc
}
encoders() { curl -s "$base/metrics" | awk '$1 == "livepipe_media_encoders" {print $2}'; }

# measure NAME STREAM [blur]: publishes STREAM with one viewer, prints the
# server's CPU while it runs.
measure() {
  local name=$1 stream=$2 blur=${3:-} publisher viewer
  "$livepipe" whip-publish "$base/whip/$stream" --ice-address 127.0.0.1 --size 1280x720 \
    --duration $((seconds + 60)) >"$dir/pub.log" 2>&1 &
  publisher=$!
  for _ in $(seq 100); do grep -qs '^session ' "$dir/pub.log" && break; sleep 0.1; done
  "$livepipe" whep-play "$base/whep/$stream" --ice-address 127.0.0.1 \
    --duration $((seconds + 60)) >"$dir/view.log" 2>&1 &
  viewer=$!
  for _ in $(seq 100); do grep -qs 'first frame' "$dir/view.log" && break; sleep 0.1; done
  if [[ -n $blur ]]; then
    curl -s -X POST -d '{"verdict": "blur"}' "$base/api/v1/streams/$stream/moderation" >/dev/null
  fi
  sleep 3
  local figure encoding
  encoding=$(encoders)
  figure=$(cpu)
  printf '%-58s %7s %9s\n' "$name" "$figure" "$encoding"
  kill "$viewer" "$publisher" 2>/dev/null
  wait "$viewer" "$publisher" 2>/dev/null
  sleep 2
  eval "sum_$4=\$(echo \"\${sum_$4:-0} + $figure\" | bc)"
}

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-58s %7s %9s\n' "1280x720 30 fps H.264 + Opus, one viewer, $seconds s per figure" "% core" "encoders"
for round in $(seq "$rounds"); do
  measure "unmoderated (webrtc-publish-fanout)" "plain-$round" "" plain
  measure "moderated passthrough, allow" "pass-$round" "" pass
  measure "moderated passthrough, blur (forced)" "pass-blur-$round" blur passblur
  measure "moderated re-encoding (webrtc-publish-moderated), allow" "reenc-$round" "" reenc
  measure "moderated re-encoding, blur (forced)" "reenc-blur-$round" blur reencblur
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
avg() { echo "scale=2; $1 / $rounds" | bc; }
plain=$(avg "$sum_plain")
pass=$(avg "$sum_pass")
passblur=$(avg "$sum_passblur")
reenc=$(avg "$sum_reenc")
reencblur=$(avg "$sum_reencblur")
echo "averages over $rounds rounds (% of one core): unmoderated $plain, passthrough allow $pass," \
  "passthrough blur $passblur, re-encoding allow $reenc, re-encoding blur $reencblur"
echo "moderation's cost over the unmoderated stream: passthrough $(echo "$pass - $plain" | bc)," \
  "re-encoding $(echo "$reenc - $plain" | bc) (ratio passthrough / re-encoding" \
  "$(echo "scale=2; $pass / $reenc" | bc))"
