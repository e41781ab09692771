#!/usr/bin/env bash
# Codecs and processed streams against a real `livepipe serve`: a VP8
# publisher fanned out as VP8 (and a viewer without VP8 refused with the
# reason), a processed stream (?beauty=on, and a config rule) decoded once,
# filtered once and encoded once to H.264 for three viewers whatever the
# publisher sends, and the request params the service refuses. Runs inside a
# loopback-only network namespace (in_netns.sh).
#   whip_codecs.sh LIVEPIPE
livepipe=$1
source "$(dirname "$0")/../support/fixture.sh"
port=18183
base=http://127.0.0.1:$port

# Every problem in the rules is reported before anything is served.
cat > "$dir/bad.json" <<JSON
{"media": {"beautyDescription": "no-such-beauty",
           "rules": [{"match": "a*", "description": "no-such-preset"},
                     {"match": "b*", "description": "webrtc-publish-beauty",
                      "params": {"smoothing": 3, "nosuch": 1}},
                     {"description": "webrtc-publish-fanout", "extra": true}]}}
JSON
"$livepipe" serve --config "$dir/bad.json" --listen 127.0.0.1:$port >"$dir/bad.log" 2>&1
check "bad rules refused" 2 $?
for what in 'beautyDescription: .*no-such-beauty' 'rules\[0\]' 'rules\[1\].*smoothing.*out of range' 'rules\[1\].*nosuch' 'rules\[2\].match: is required' \
  'rules\[2\].extra: unknown setting'; do
  check "bad rules: $what reported" 1 "$(grep -c "$what" "$dir/bad.log")"
done

cat > "$dir/config.json" <<JSON
{"media": {"iceAddresses": ["127.0.0.1"], "idleTimeoutSeconds": 4,
           "rules": [{"match": "soft-*", "description": "webrtc-publish-beauty",
                      "params": {"smoothing": 0.9}}]}}
JSON
serve_livepipe "$dir/config.json" "$port"

status() { curl -s -o "$dir/body" -w '%{http_code}' "$@"; }
metric() { curl -s "$base/metrics" | sed -n "s/^$1 //p"; }
# Starts a publisher; waits (bounded) for its session.
publish() {  # publish NAME URL ARGS...
  local log=$dir/$1.log
  shift
  "$livepipe" whip-publish "$@" --ice-address 127.0.0.1 --duration 60 >"$log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do grep -q '^session \|^error' "$log" && break; sleep 0.1; done
}
viewers() {  # viewers STREAM PREFIX COUNT: COUNT viewers in parallel for 5 s
  local vpids=()
  for i in $(seq "$3"); do
    "$livepipe" whep-play "$base/whep/$1" --ice-address 127.0.0.1 --duration 5 \
      >"$dir/$2$i.log" 2>&1 &
    vpids+=($!)
  done
  for pid in "${vpids[@]}"; do wait "$pid"; done
}
h264_offer=$(printf '%s\r\n' 'v=0' 'o=- 1 2 IN IP4 127.0.0.1' 's=-' 't=0 0' \
  'm=video 9 UDP/TLS/RTP/SAVPF 127' 'c=IN IP4 0.0.0.0' 'a=ice-ufrag:abcd' \
  'a=ice-pwd:abcdefghijklmnopqrstuvwx' 'a=fingerprint:sha-256 AA:BB' 'a=setup:actpass' \
  'a=mid:0' 'a=rtcp-mux' 'a=recvonly' 'a=rtpmap:127 H264/90000' \
  'a=fmtp:127 packetization-mode=1;profile-level-id=42e01f')

# VP8 passes through: viewers get VP8.
publish vp8pub "$base/whip/vp8" --codec vp8 --size 320x240
check "VP8 publisher has a session" 1 "$(grep -c '^session ' "$dir/vp8pub.log")"
viewers vp8 vp8view 2
for i in 1 2; do
  check "VP8 viewer $i codec" "VP8" "$(sed -n 's/^video codec: //p' "$dir/vp8view$i.log")"
  check "VP8 viewer $i size" "320x240" "$(sed -n 's/^first frame after [0-9]* ms: //p' "$dir/vp8view$i.log")"
  frames=$(sed -n 's/^frames decoded: //p' "$dir/vp8view$i.log")
  check "VP8 viewer $i decoded (frames $frames)" 1 "$([[ ${frames:-0} -ge 30 ]] && echo 1 || echo 0)"
done
check "passthrough encodes nothing" 0 "$(metric livepipe_media_encoders)"
check "H.264-only viewer of a VP8 stream" 400 "$(status -X POST -H 'Content-Type: application/sdp' --data-binary "$h264_offer" "$base/whep/vp8")"
check "the refusal says why" 1 "$(grep -c 'offers none of VP8; stream vp8 sends VP8 video' "$dir/body")"

# Request params: only what the chosen description declares, valid.
check "beauty=maybe" 400 "$(status -X POST -H 'Content-Type: application/sdp' --data-binary "$h264_offer" "$base/whip/p?beauty=maybe")"
check "an undeclared param" 400 "$(status -X POST -H 'Content-Type: application/sdp' --data-binary "$h264_offer" "$base/whip/p?beauty=on&nosuch=1")"
check "the refusal names it" 1 "$(grep -c "unknown param 'nosuch'" "$dir/body")"
check "a param out of range" 400 "$(status -X POST -H 'Content-Type: application/sdp' --data-binary "$h264_offer" "$base/whip/p?beauty=on&smoothing=2")"
check "a passthrough param without beauty" 400 "$(status -X POST -H 'Content-Type: application/sdp' --data-binary "$h264_offer" "$base/whip/p?smoothing=0.5")"
check "a server-owned param" 400 "$(status -X POST -H 'Content-Type: application/sdp' --data-binary "$h264_offer" "$base/whip/p?beauty=on&video-codec=vp8")"

# Processed: a VP8 publisher with ?beauty=on, three H.264 viewers, one encoder.
publish beautypub "$base/whip/pretty?beauty=on&whitening=0.5" --codec vp8 --size 320x240
check "processed publisher has a session" 1 "$(grep -c '^session ' "$dir/beautypub.log")"
viewers pretty prettyview 3
for i in 1 2 3; do
  check "processed viewer $i codec" "H264" "$(sed -n 's/^video codec: //p' "$dir/prettyview$i.log")"
  check "processed viewer $i size" "320x240" "$(sed -n 's/^first frame after [0-9]* ms: //p' "$dir/prettyview$i.log")"
  frames=$(sed -n 's/^frames decoded: //p' "$dir/prettyview$i.log")
  check "processed viewer $i decoded (frames $frames)" 1 "$([[ ${frames:-0} -ge 30 ]] && echo 1 || echo 0)"
done
check "three viewers, one encoder" 1 "$(metric livepipe_media_encoders)"

# A rule: an H.264 publisher to soft-* is processed too.
publish rulepub "$base/whip/soft-1" --size 320x240
viewers soft-1 ruleview 1
check "rule viewer size" "320x240" "$(sed -n 's/^first frame after [0-9]* ms: //p' "$dir/ruleview1.log")"
check "two processed streams, two encoders" 2 "$(metric livepipe_media_encoders)"

stop_livepipe
finish
