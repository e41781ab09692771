#!/usr/bin/env bash
# WHIP ingest and WHEP playback against a real `livepipe serve`, with our own
# clients (livepipe whip-publish / whep-play). Runs inside a network namespace
# whose only interface is lo (in_netns.sh), so ICE uses 127.0.0.1 only.
# LIVEPIPE_VIEWER_TRANSPORT picks media.viewerTransport (default shared).
#   whip_whep.sh LIVEPIPE
livepipe=$1
transport=${LIVEPIPE_VIEWER_TRANSPORT:-shared}
source "$(dirname "$0")/../support/fixture.sh"
secret=0123456789abcdef0123456789abcdef
port=18181
base=http://127.0.0.1:$port
cat > "$dir/config.json" <<JSON
{"auth": {"secret": "$secret"},
 "media": {"iceAddresses": ["127.0.0.1"], "maxStreams": 1, "idleTimeoutSeconds": 4,
           "viewerTransport": "$transport"}}
JSON
token() { "$livepipe" token --secret "$secret" --role "$1" ${2:+--stream "$2"}; }
pub=$(token publish cam)
play=$(token play cam)
other=$(token play other)

serve_livepipe "$dir/config.json" "$port"

status() { curl -s -o "$dir/body" -w '%{http_code}' "$@"; }
offer='v=0
o=- 1 1 IN IP4 0.0.0.0
s=-
t=0 0
m=video 9 UDP/TLS/RTP/SAVPF 96
c=IN IP4 0.0.0.0
a=ice-ufrag:abcd
a=ice-pwd:abcdefghijklmnopqrstuvwx
a=fingerprint:sha-256 AA:BB
a=sendonly
a=mid:0
a=rtpmap:96 VP9/90000
'

# Errors before any stream exists.
check "OPTIONS preflight" 204 "$(status -X OPTIONS "$base/whip/cam")"
check "OPTIONS Accept-Post" "application/sdp" \
  "$(curl -s -D - -o /dev/null -X OPTIONS "$base/whip/cam" | tr -d '\r' | sed -n 's/^Accept-Post: //Ip')"
check "POST without token" 401 "$(status -X POST -H 'Content-Type: application/sdp' --data-binary "$offer" "$base/whip/cam")"
check "POST with a play token" 403 "$(status -X POST -H "Authorization: Bearer $play" -H 'Content-Type: application/sdp' --data-binary "$offer" "$base/whip/cam")"
check "POST for another stream" 403 "$(status -X POST -H "Authorization: Bearer $pub" -H 'Content-Type: application/sdp' --data-binary "$offer" "$base/whip/elsewhere")"
check "POST wrong content type" 415 "$(status -X POST -H "Authorization: Bearer $pub" -H 'Content-Type: text/plain' --data-binary "$offer" "$base/whip/cam")"
check "POST malformed SDP" 400 "$(status -X POST -H "Authorization: Bearer $pub" -H 'Content-Type: application/sdp' --data-binary 'hello' "$base/whip/cam")"
check "POST unsupported codec" 400 "$(status -X POST -H "Authorization: Bearer $pub" -H 'Content-Type: application/sdp' --data-binary "$offer" "$base/whip/cam")"
grep -q "offers none of H.264" "$dir/body" && echo "ok   unsupported codec says why" || { echo "FAIL no reason: $(cat "$dir/body")"; failures=$((failures + 1)); }
check "WHEP unknown stream" 404 "$(status -X POST -H "Authorization: Bearer $play" -H 'Content-Type: application/sdp' --data-binary "$offer" "$base/whep/cam")"
check "unknown session" 404 "$(status -X DELETE -H "Authorization: Bearer $pub" "$base/whip/cam/nosuchsession")"

# Publish, then three viewers decode at the published size.
# The publisher restarts ICE 2 s after connecting; the viewers below start
# after that, so their frames are the restarted session's.
"$livepipe" whip-publish "$base/whip/cam" --token "$pub" --ice-address 127.0.0.1 --size 320x240 \
  --duration 40 --ice-restart-after 2 >"$dir/pub.log" 2>&1 &
publisher=$!
pids+=($publisher)
for _ in $(seq 100); do grep -q '^session ' "$dir/pub.log" && break; sleep 0.1; done
session=$(sed -n 's/^session //p' "$dir/pub.log")
check "publisher has a session" 1 "$([[ $session == $base/whip/cam/* ]] && echo 1 || echo 0)"

check "second publisher" 409 "$(status -X POST -H "Authorization: Bearer $pub" -H 'Content-Type: application/sdp' --data-binary "$offer" "$base/whip/cam")"
limit_token=$(token publish)
check "stream limit" 503 "$(status -X POST -H "Authorization: Bearer $limit_token" -H 'Content-Type: application/sdp' --data-binary "$offer" "$base/whip/two")"
curl -s -D "$dir/h" -o /dev/null -X POST -H "Authorization: Bearer $limit_token" -H 'Content-Type: application/sdp' --data-binary "$offer" "$base/whip/two"
check "503 has Retry-After" 1 "$(grep -ci '^Retry-After:' "$dir/h")"
check "WHEP with a token for another stream" 403 "$(status -X POST -H "Authorization: Bearer $other" -H 'Content-Type: application/sdp' --data-binary "$offer" "$base/whep/cam")"

# Trickle and the ICE restart preconditions on the publisher's session.
frag='a=ice-ufrag:wxyz
a=ice-pwd:abcdefghijklmnopqrstuvwxyz
m=video 9 UDP/TLS/RTP/SAVPF 0
a=mid:video0
a=candidate:1 1 UDP 2130706431 127.0.0.1 40000 typ host
a=end-of-candidates
'
trickle='m=video 9 UDP/TLS/RTP/SAVPF 0
a=mid:video0
a=candidate:1 1 UDP 2130706431 127.0.0.1 40000 typ host
'
check "PATCH trickle" 204 "$(status -X PATCH -H "Authorization: Bearer $pub" -H 'Content-Type: application/trickle-ice-sdpfrag' --data-binary "$trickle" "$session")"
check "PATCH bad fragment" 400 "$(status -X PATCH -H "Authorization: Bearer $pub" -H 'Content-Type: application/trickle-ice-sdpfrag' --data-binary 'a=candidate:x' "$session")"
check "PATCH wrong type" 415 "$(status -X PATCH -H "Authorization: Bearer $pub" -H 'Content-Type: application/sdp' --data-binary "$trickle" "$session")"
check "ICE restart without If-Match" 428 "$(status -X PATCH -H "Authorization: Bearer $pub" -H 'Content-Type: application/trickle-ice-sdpfrag' --data-binary "$frag" "$session")"
check "ICE restart with a stale ETag" 412 "$(status -X PATCH -H "Authorization: Bearer $pub" -H 'If-Match: "stale"' -H 'Content-Type: application/trickle-ice-sdpfrag' --data-binary "$frag" "$session")"

# ICE restart on a WHEP session driven by hand: 200 with the server's new
# credentials as a fragment and a new ETag; the old ETag is then stale.
restart_offer=$(printf '%s\r\n' 'v=0' 'o=- 1 2 IN IP4 127.0.0.1' 's=-' 't=0 0' \
  'm=video 9 UDP/TLS/RTP/SAVPF 127' 'c=IN IP4 0.0.0.0' 'a=ice-ufrag:abcd' \
  'a=ice-pwd:abcdefghijklmnopqrstuvwx' 'a=fingerprint:sha-256 AA:BB' 'a=setup:actpass' \
  'a=mid:0' 'a=rtcp-mux' 'a=recvonly' 'a=rtpmap:127 H264/90000' \
  'a=fmtp:127 packetization-mode=1;profile-level-id=42e01f')
curl -s -D "$dir/h" -o "$dir/answer" -X POST -H "Authorization: Bearer $play" \
  -H 'Content-Type: application/sdp' --data-binary "$restart_offer" "$base/whep/cam"
location=$base$(tr -d '\r' <"$dir/h" | sed -n 's/^location: //Ip')
etag=$(tr -d '\r' <"$dir/h" | sed -n 's/^etag: //Ip')
old_ufrag=$(tr -d '\r' <"$dir/answer" | sed -n 's/^a=ice-ufrag://p' | head -1)
# RFC 8840 fragments carry the sender's current credentials: the offer's
# make a trickle (no If-Match needed), not a restart.
offer_trickle='a=ice-ufrag:abcd
a=ice-pwd:abcdefghijklmnopqrstuvwx
m=video 9 UDP/TLS/RTP/SAVPF 127
a=mid:0
a=candidate:1 1 UDP 2130706431 127.0.0.1 40001 typ host
'
check "PATCH trickle with the offer's credentials" 204 "$(status -X PATCH -H "Authorization: Bearer $play" -H 'Content-Type: application/trickle-ice-sdpfrag' --data-binary "$offer_trickle" "$location")"
restart_frag='a=ice-ufrag:efgh
a=ice-pwd:bcdefghijklmnopqrstuvwxyz0
m=video 9 UDP/TLS/RTP/SAVPF 127
a=mid:0
a=candidate:1 1 UDP 2130706431 127.0.0.1 40000 typ host
'
curl -s -D "$dir/h2" -o "$dir/frag" -X PATCH -H "Authorization: Bearer $play" -H "If-Match: $etag" \
  -H 'Content-Type: application/trickle-ice-sdpfrag' --data-binary "$restart_frag" "$location"
check "ICE restart" 200 "$(sed -n '1s/^HTTP[^ ]* \([0-9]*\).*/\1/p' "$dir/h2")"
check "ICE restart answers a fragment" 1 "$(grep -ci '^content-type: application/trickle-ice-sdpfrag' "$dir/h2")"
new_etag=$(tr -d '\r' <"$dir/h2" | sed -n 's/^etag: //Ip')
new_ufrag=$(tr -d '\r' <"$dir/frag" | sed -n 's/^a=ice-ufrag://p')
check "ICE restart: new ETag" 1 "$([[ -n $new_etag && $new_etag != "$etag" ]] && echo 1 || echo 0)"
check "ICE restart: new server ufrag" 1 "$([[ -n $new_ufrag && $new_ufrag != "$old_ufrag" ]] && echo 1 || echo 0)"
check "ICE restart: the server's candidates" 1 "$(grep -c '^a=candidate:.* 127.0.0.1 ' "$dir/frag" | sed 's/^[1-9][0-9]*$/1/')"
check "ICE restart: mid and end-of-candidates" 2 "$(tr -d '\r' <"$dir/frag" | grep -c '^a=mid:0$\|^a=end-of-candidates$')"
check "ICE restart with the old ETag" 412 "$(status -X PATCH -H "Authorization: Bearer $play" -H "If-Match: $etag" -H 'Content-Type: application/trickle-ice-sdpfrag' --data-binary "$restart_frag" "$location")"
restarted_trickle='a=ice-ufrag:efgh
a=ice-pwd:bcdefghijklmnopqrstuvwxyz0
m=video 9 UDP/TLS/RTP/SAVPF 127
a=mid:0
a=candidate:2 1 UDP 2130706431 127.0.0.1 40002 typ host
a=end-of-candidates
'
check "PATCH trickle with the restarted credentials" 204 "$(status -X PATCH -H "Authorization: Bearer $play" -H "If-Match: $new_etag" -H 'Content-Type: application/trickle-ice-sdpfrag' --data-binary "$restarted_trickle" "$location")"
check "DELETE the restarted session" 200 "$(status -X DELETE -H "Authorization: Bearer $play" "$location")"
for _ in $(seq 100); do grep -q '^ice restart' "$dir/pub.log" && break; sleep 0.1; done
check "the publisher restarted ICE" 1 "$(grep -c '^ice restart: done' "$dir/pub.log")"

viewer() { "$livepipe" whep-play "$base/whep/cam" --token "$play" --ice-address 127.0.0.1 "$@"; }
for i in 1 2 3; do
  # The first viewer restarts ICE mid-way and must keep decoding.
  viewer --duration 8 $( ((i == 1)) && echo --ice-restart-after 2) >"$dir/view$i.log" 2>&1 &
  pids+=($!)
  eval "v$i=$!"
done
# A fourth viewer leaves early; the others must keep receiving.
viewer --duration 5 >"$dir/view4.log" 2>&1
check "early viewer decoded" 1 "$(grep -c 'first frame after' "$dir/view4.log")"
for i in 1 2 3; do
  wait "$(eval echo \$v$i)"
  check "viewer $i exit" 0 $?
  check "viewer $i size" "320x240" "$(sed -n 's/^first frame after [0-9]* ms: //p' "$dir/view$i.log")"
  frames=$(sed -n 's/^frames decoded: //p' "$dir/view$i.log")
  # 8 s at 30 fps minus the time to connect: far fewer means an interruption.
  check "viewer $i kept receiving (frames $frames)" 1 "$([[ ${frames:-0} -ge 90 ]] && echo 1 || echo 0)"
done
before=$(sed -n 's/^ice restart: done in [0-9]* ms after \([0-9]*\) frames/\1/p' "$dir/view1.log")
after=$(sed -n 's/^frames decoded: //p' "$dir/view1.log")
check "viewer 1 decoded after its ICE restart (${before:-none} then ${after:-0})" 1 \
  "$([[ -n $before ]] && ((after - before >= 30)) && echo 1 || echo 0)"
curl -s "$base/metrics" >"$dir/metrics"
check "metrics: one stream" 1 "$(sed -n 's/^livepipe_media_streams //p' "$dir/metrics")"
check "metrics: viewers gone" 0 "$(sed -n 's/^livepipe_media_viewers //p' "$dir/metrics")"

# The publisher leaving ends the viewers promptly.
viewer --duration 30 --stall 2 >"$dir/view5.log" 2>&1 &
last=$!
for _ in $(seq 100); do grep -q 'first frame' "$dir/view5.log" && break; sleep 0.1; done
kill -INT "$publisher"
wait "$publisher"
check "publisher ended cleanly" 0 $?
started=$(date +%s)
wait "$last"
check "viewer ends when the publisher leaves" 1 $?
check "viewer ended within 5 s" 1 "$(( $(date +%s) - started <= 5 ))"
check "stream gone" 0 "$(curl -s "$base/metrics" | sed -n 's/^livepipe_media_streams //p')"
check "DELETE on the ended session" 404 "$(status -X DELETE -H "Authorization: Bearer $pub" "$session")"

stop_livepipe
finish "$dir"/view*.log "$dir/pub.log"
