#!/usr/bin/env bash
# RTMP ingest: `livepipe serve --rtmp-listen` runs its own nginx-rtmp; ffmpeg
# publishes H.264 + AAC with B-frames off and on, a WHEP viewer decodes frames
# both times; a wrong key is refused; nginx is restarted when it dies and
# stopped with the server. Runs inside a loopback-only namespace (in_netns.sh).
#   ingest.sh LIVEPIPE
livepipe=$1
source "$(dirname "$0")/../support/fixture.sh"

# A new, empty namespace: fixed ports cannot clash.
port=18192
rtmp_port=19353
base=http://127.0.0.1:$port
secret=0123456789abcdef0123456789abcdef
cat > "$dir/config.json" <<JSON
{"auth": {"secret": "$secret"},
 "media": {"iceAddresses": ["127.0.0.1"], "idleTimeoutSeconds": 6},
 "rtmp": {"keys": ["static-key-for-obs"]}}
JSON
token() { "$livepipe" token --secret "$secret" --role "$1" ${2:+--stream "$2"}; }
admin=$(token admin)
serve_livepipe "$dir/config.json" "$port" --rtmp-listen 127.0.0.1:$rtmp_port
accepts() { (exec 3<>/dev/tcp/127.0.0.1/$rtmp_port) 2>/dev/null; }
for _ in $(seq 100); do accepts && break; sleep 0.1; done
check "nginx listens" 1 "$(truth "$(accepts && echo 1)")"

stream_up() {  # the admin API knows the stream
  [[ $(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $admin" \
       "$base/api/v1/streams/$1/rtmp") == 200 ]]
}
publish() {  # publish STREAM KEY-QUERY BFRAMES SECONDS
  local x264=(-preset veryfast -bf "$3")
  [[ $3 == 0 ]] && x264=(-preset ultrafast -tune zerolatency -bf 0)
  # exec: run in the background, $! is ffmpeg itself, so killing it ends the
  # publish (not only the subshell around it).
  exec ffmpeg -hide_banner -loglevel error -re -f lavfi -i testsrc2=size=320x240:rate=30 \
    -f lavfi -i sine=frequency=440:sample_rate=44100 -c:v libx264 "${x264[@]}" -g 30 \
    -pix_fmt yuv420p -c:a aac -b:a 96k -t "$4" -f flv \
    "rtmp://127.0.0.1:$rtmp_port/live/$1?$2" >"$dir/ffmpeg-$1.log" 2>&1
}

# A wrong key: nginx drops the publisher, no stream appears.
start=$(date +%s)
timeout 20 bash -c "$(declare -f publish); dir=$dir rtmp_port=$rtmp_port publish bad token=nonsense 0 15"
check "wrong key: ffmpeg fails" 1 "$(truth "$(( $? != 0 ))")"
check "wrong key: disconnected promptly" 1 "$(truth "$(( $(date +%s) - start <= 10 ))")"
check "wrong key: no stream" 1 "$(truth "$(stream_up bad || echo 1)")"
grep -q 'rtmp-publish-refused.*stream=bad' "$dir/serve.log"
check "wrong key: logged" 0 $?

watch_stream() {  # watch_stream NAME BFRAMES KEY-QUERY WHAT
  publish "$1" "$3" "$2" 30 &
  local pusher=$!
  pids+=($pusher)
  for _ in $(seq 150); do stream_up "$1" && break; sleep 0.1; done
  check "$4: stream up" 1 "$(truth "$(stream_up "$1" && echo 1)")"
  "$livepipe" whep-play "$base/whep/$1" --token "$(token play "$1")" --ice-address 127.0.0.1 \
    --duration 10 >"$dir/view-$1.log" 2>&1
  check "$4: viewer exit" 0 $?
  check "$4: viewer size" "320x240" "$(sed -n 's/^first frame after [0-9]* ms: //p' "$dir/view-$1.log")"
  local frames=$(sed -n 's/^frames decoded: //p' "$dir/view-$1.log")
  check "$4: viewer decoded (frames $frames)" 1 "$(truth "$([[ ${frames:-0} -ge 60 ]] && echo 1)")"
  kill "$pusher" 2>/dev/null
  wait "$pusher" 2>/dev/null
  for _ in $(seq 100); do stream_up "$1" || break; sleep 0.1; done
  check "$4: publisher gone ends the stream" 1 "$(truth "$(stream_up "$1" || echo 1)")"
}
watch_stream plain 0 "token=$(token publish plain)" "no B-frames"
check "no B-frames: passes through" 1 "$(grep -c 'rtmp-stream stream=plain video=passthrough' "$dir/serve.log")"
watch_stream reordered 3 "key=static-key-for-obs" "B-frames"
check "B-frames: transcoded" 1 "$(grep -c 'rtmp-stream stream=reordered video=transcoded' "$dir/serve.log")"

# Supervision: a killed nginx comes back; the server stops it at the end.
nginx_pid=$(sed -n 's/.*rtmp-ingest pid=\([0-9]*\).*/\1/p' "$dir/serve.log" | tail -1)
kill -KILL "$nginx_pid"
for _ in $(seq 100); do [[ $(grep -c 'rtmp-ingest pid=' "$dir/serve.log") -ge 2 ]] && accepts && break; sleep 0.1; done
check "nginx restarted" 1 "$(truth "$(accepts && echo 1)")"
new_pid=$(sed -n 's/.*rtmp-ingest pid=\([0-9]*\).*/\1/p' "$dir/serve.log" | tail -1)
check "a new nginx" 1 "$(truth "$([[ -n $new_pid && $new_pid != "$nginx_pid" ]] && echo 1)")"

stop_livepipe
check "nginx stopped with it" 1 "$(truth "$(kill -0 "$new_pid" 2>/dev/null || echo 1)")"
finish "$dir"/view-*.log
