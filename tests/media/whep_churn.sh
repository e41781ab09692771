#!/usr/bin/env bash
# Viewer churn against one published stream: 200 WHEP join/leave cycles must
# not leave threads, file descriptors or much memory behind in `livepipe
# serve`. 189 cycles are POST offer / DELETE with curl, three at a time (the
# server attaches and detaches a viewer branch and a transport for each),
# and 11 meanwhile are real viewers (whep-play) that connect and decode.
# Runs inside a loopback-only namespace (in_netns.sh).
#   whep_churn.sh LIVEPIPE
livepipe=$1
cycles=200
# Growth allowed over the baseline taken after warm-up: a viewer that leaked
# its DTLS and SRTP state (tens of kB) would cross it long before 200 cycles.
# Sanitizer builds keep freed memory in quarantine, so they get more room.
rss_bound_kb=$((${LIVEPIPE_CHURN_RSS_KB:-4000}))
if ldd "$livepipe" | grep -q libasan; then
  rss_bound_kb=$((rss_bound_kb * 10))
fi
source "$(dirname "$0")/../support/fixture.sh"
secret=0123456789abcdef0123456789abcdef
port=18182
base=http://127.0.0.1:$port
cat > "$dir/config.json" <<JSON
{"auth": {"secret": "$secret"}, "media": {"iceAddresses": ["127.0.0.1"]}}
JSON
token() { "$livepipe" token --secret "$secret" --role "$1" --stream cam; }
pub=$(token publish)
play=$(token play)

serve_livepipe "$dir/config.json" "$port"

"$livepipe" whip-publish "$base/whip/cam" --token "$pub" --ice-address 127.0.0.1 --size 160x120 \
  --duration 300 >"$dir/pub.log" 2>&1 &
publisher=$!
pids+=($publisher)
for _ in $(seq 100); do grep -q '^session ' "$dir/pub.log" && break; sleep 0.1; done
check "publisher has a session" 1 "$(grep -c '^session ' "$dir/pub.log")"

offer=$(printf '%s\r\n' 'v=0' 'o=- 1 2 IN IP4 127.0.0.1' 's=-' 't=0 0' 'a=group:BUNDLE 0 1' \
  'm=audio 9 UDP/TLS/RTP/SAVPF 111' 'c=IN IP4 0.0.0.0' 'a=ice-ufrag:abcd' \
  'a=ice-pwd:abcdefghijklmnopqrstuvwx' \
  'a=fingerprint:sha-256 AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99' \
  'a=setup:actpass' 'a=mid:0' 'a=rtcp-mux' 'a=recvonly' 'a=rtpmap:111 opus/48000/2' \
  'm=video 9 UDP/TLS/RTP/SAVPF 127' 'c=IN IP4 0.0.0.0' 'a=ice-ufrag:abcd' \
  'a=ice-pwd:abcdefghijklmnopqrstuvwx' \
  'a=fingerprint:sha-256 AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99' \
  'a=setup:actpass' 'a=mid:1' 'a=rtcp-mux' 'a=recvonly' 'a=rtpmap:127 H264/90000' \
  'a=fmtp:127 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f')

# One POST/DELETE cycle; prints the two statuses.
cycle() {
  local location
  location=$(curl -s -o /dev/null -D - -X POST -H "Authorization: Bearer $play" \
    -H 'Content-Type: application/sdp' --data-binary "$offer" "$base/whep/cam" |
    tr -d '\r' | sed -n 's/^location: //Ip')
  [[ $location == /* ]] && location=$base$location
  [[ -n $location ]] || { echo "no-session"; return; }
  curl -s -o /dev/null -w '%{http_code}' -X DELETE -H "Authorization: Bearer $play" "$location"
}
full_viewer() {
  "$livepipe" whep-play "$base/whep/cam" --token "$play" --ice-address 127.0.0.1 --duration 6 \
    >"$dir/view.log" 2>&1 && grep -q 'first frame' "$dir/view.log"
}
rss() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$server/status"; }
threads() { sed -n 's/^Threads:[[:space:]]*//p' "/proc/$server/status"; }
fds() { ls "/proc/$server/fd" | wc -l; }
viewers() { curl -s "$base/metrics" | sed -n 's/^livepipe_media_viewers //p'; }
settle() {  # waits (bounded) until no viewer is left and threads/fds drop to $1/$2
  for _ in $(seq 100); do
    [[ $(viewers) == 0 && $(threads) -le ${1:-1000000} && $(fds) -le ${2:-1000000} ]] && return
    sleep 0.1
  done
}

# Warm-up: one-time allocations (codec and thread pools, plugin loading).
full_viewer
check "a viewer decodes the stream" 0 $?
for _ in 1 2 3; do cycle >/dev/null; done
settle
sleep 1  # threads of the last viewer's pipeline finish after it is gone
base_rss=$(rss) base_threads=$(threads) base_fds=$(fds)
echo "baseline: rss ${base_rss} kB, ${base_threads} threads, ${base_fds} fds"

started=$(date +%s)
# Three lanes of POST/DELETE cycles; each records its failures in a file.
lane() {  # lane N COUNT
  local failed=0
  for _ in $(seq "$2"); do
    [[ $(cycle) == 200 ]] || failed=$((failed + 1))
    (($(date +%s) - started > 150)) && { echo late >"$dir/lane$1.late"; break; }
  done
  echo "$failed" >"$dir/lane$1.failed"
}
lanes=()
full=11
for n in 1 2 3; do
  lane "$n" $(((cycles - full) / 3)) &
  lanes+=($!)
done
bad_full=0
for _ in $(seq "$full"); do
  full_viewer || bad_full=$((bad_full + 1))
  (($(date +%s) - started > 150)) && break
done
for pid in "${lanes[@]}"; do wait "$pid"; done
bad=0
for f in "$dir"/lane*.failed; do bad=$((bad + $(cat "$f"))); done
echo "churn: $cycles cycles in $(($(date +%s) - started)) s"
check "churn within 150 s" 0 "$(ls "$dir"/lane*.late 2>/dev/null | wc -l)"
check "POST/DELETE cycles all succeeded" 0 "$bad"
check "full viewers all decoded" 0 "$bad_full"
settle "$base_threads" "$base_fds"
check "no viewer left" 0 "$(viewers)"
# At most the baseline: a pool thread of GStreamer's may have ended meanwhile.
check "threads back to baseline ($base_threads)" 1 "$(($(threads) <= base_threads))"
check "fds back to baseline ($base_fds)" 1 "$(($(fds) <= base_fds))"
growth=$(($(rss) - base_rss))
echo "rss growth: $growth kB (bound $rss_bound_kb kB)"
check "rss growth under bound" 1 "$((growth < rss_bound_kb))"

kill -INT "$publisher"; wait "$publisher"
stop_livepipe
finish
