#!/usr/bin/env bash
# Access hooks (hooks.onPublish / hooks.onPlay) against a real `livepipe
# serve` and a local hook endpoint (hook_server.py): an allowed publish and
# play work, denials are 403 with the hook's reason, a hook slower than
# hooks.timeoutMs denies in time, and the hook sees who asks for what.
# Runs inside a loopback-only namespace.
#   access_hooks.sh LIVEPIPE
livepipe=$1
here=$(cd "$(dirname "$0")" && pwd)
source "$(dirname "$0")/../support/fixture.sh"

python3 "$here/hook_server.py" "$dir/hook.port" "$dir/hook.jsonl" &
pids+=($!)
for _ in $(seq 50); do [[ -s $dir/hook.port ]] && break; sleep 0.1; done
hook=http://127.0.0.1:$(cat "$dir/hook.port")

secret=0123456789abcdef0123456789abcdef
port=$(free_port)
base=http://127.0.0.1:$port
cat > "$dir/config.json" <<JSON
{"auth": {"secret": "$secret"}, "media": {"iceAddresses": ["127.0.0.1"]},
 "hooks": {"onPublish": "$hook/publish", "onPlay": "$hook/play", "timeoutMs": 1000}}
JSON
token() { "$livepipe" token --secret "$secret" --role "$1" --sub "$2"; }
pub=$(token publish alice)
play=$(token play bob)

# A URL that is not http:// stops the start with the setting's path.
echo '{"hooks": {"onPlay": "ftp://127.0.0.1/x"}}' >"$dir/bad.json"
timeout 10 "$livepipe" serve --config "$dir/bad.json" --listen "127.0.0.1:$(free_port)" >"$dir/bad.log" 2>&1
check "a bad hook URL stops the start" 1 "$(($? != 0))"
check "it names the setting" 1 "$(grep -c 'hooks.onPlay' "$dir/bad.log")"

serve_livepipe "$dir/config.json" "$port"

# The hook answers before the offer is read, so a denied request needs none.
status() { curl -s --max-time 10 -o "$dir/body" -w '%{http_code}' -X POST -H 'Content-Type: application/sdp' \
  --data-binary 'v=0' "$@"; }
check "denied publish" 403 "$(status -H "Authorization: Bearer $pub" "$base/whip/denied?room=x")"
check "the hook's reason, trimmed" "no cameras here today" "$(cat "$dir/body")"

start=$(date +%s%N)
check "slow hook denies" 403 "$(status -H "Authorization: Bearer $pub" "$base/whip/slow")"
elapsed=$((($(date +%s%N) - start) / 1000000))
check "it says why" 1 "$(grep -c 'on_publish hook did not answer within 1000 ms' "$dir/body")"
check "within the timeout and a margin (${elapsed} ms)" 1 \
  "$(((elapsed >= 900 && elapsed < 2500) ? 1 : 0))"
check "one log line for it" 1 "$(grep -c 'hook-failed' "$dir/serve.log")"

"$livepipe" whip-publish "$base/whip/cam" --token "$pub" --ice-address 127.0.0.1 --size 320x240 \
  --duration 30 >"$dir/pub.log" 2>&1 &
publisher=$!
pids+=($publisher)
for _ in $(seq 100); do grep -q '^session ' "$dir/pub.log" && break; sleep 0.1; done
check "allowed publish" 1 "$(grep -c '^session ' "$dir/pub.log")"

check "denied play" 403 "$(status -H "Authorization: Bearer $play" "$base/whep/cam?who=blocked")"
check "the default reason" "denied by the on_play hook" "$(cat "$dir/body")"

"$livepipe" whep-play "$base/whep/cam" --token "$play" --ice-address 127.0.0.1 --duration 20 \
  >"$dir/view.log" 2>&1 &
viewer=$!
pids+=($viewer)
for _ in $(seq 150); do grep -q 'first frame' "$dir/view.log" && break; sleep 0.1; done
check "allowed viewer decodes" 1 "$(grep -c 'first frame' "$dir/view.log")"

field() {  # field N EXPRESSION: the expression over the hook's Nth request (from 1)
  sed -n "${1}p" "$dir/hook.jsonl" | python3 -c "import json, sys; d = json.load(sys.stdin); print($2)"
}
check "hook calls" 5 "$(wc -l <"$dir/hook.jsonl")"
check "publish: action" publish "$(field 1 'd["action"]')"
check "publish: stream" denied "$(field 1 'd["stream"]')"
check "publish: subject" alice "$(field 1 'd["subject"]')"
check "publish: remote" 127.0.0.1 "$(field 1 'd["remote"]')"
check "publish: query" '{"room": "x"}' "$(field 1 'json.dumps(d["query"])')"
check "play: action and subject" "play bob" "$(field 4 'd["action"] + " " + d["subject"]')"
check "play: query" '{"who": "blocked"}' "$(field 4 'json.dumps(d["query"])')"
check "play: stream" cam "$(field 5 'd["stream"]')"

kill -INT $viewer $publisher
wait $viewer $publisher 2>/dev/null
stop_livepipe
finish
