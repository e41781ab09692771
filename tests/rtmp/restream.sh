#!/usr/bin/env bash
# RTMP restreams of a WHIP stream against a real `livepipe serve` and two real
# nginx-rtmp servers (A and B), inside a network namespace whose only
# interface is lo (in_netns.sh): the H.264 passes through, Opus becomes AAC,
# ffprobe reads both back; destinations come from the config and the API/CLI;
# A is killed and restarted mid-stream while a WHEP viewer watches and B keeps
# streaming.
#   restream.sh LIVEPIPE
livepipe=$1
source "$(dirname "$0")/../support/fixture.sh"

# The namespace is new and empty: fixed ports cannot clash with anything.
port=18191
port_a=19351
port_b=19352
base=http://127.0.0.1:$port
start_nginx() {  # start_nginx NAME PORT
  mkdir -p "$dir/$1/logs"
  cat > "$dir/$1/nginx.conf" <<CONF
daemon off;
master_process off;
pid $dir/$1/nginx.pid;
error_log $dir/$1/error.log;
load_module /usr/lib/nginx/modules/ngx_rtmp_module.so;
events {}
rtmp { server { listen 127.0.0.1:$2; application live { live on; record off; } } }
CONF
  nginx -p "$dir/$1/" -c "$dir/$1/nginx.conf" -e "$dir/$1/error.log" &
  eval "pid_$1=$!"
  pids+=($!)
  for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$2) 2>/dev/null && return; sleep 0.1; done
  echo "FAIL nginx $1 did not start"; exit 1
}
start_nginx a $port_a
start_nginx b $port_b

secret=0123456789abcdef0123456789abcdef
cat > "$dir/config.json" <<JSON
{"auth": {"secret": "$secret"},
 "media": {"iceAddresses": ["127.0.0.1"], "idleTimeoutSeconds": 6},
 "rtmp": {"destinations": [{"stream": "cam", "url": "rtmp://127.0.0.1:$port_b/live/{stream}"}],
          "backoffInitialMs": 500, "backoffMaxMs": 2000}}
JSON
token() { "$livepipe" token --secret "$secret" --role "$1" ${2:+--stream "$2"}; }
admin=$(token admin)
serve_livepipe "$dir/config.json" "$port"

api() { curl -s -o "$dir/body" -w '%{http_code}' -H "Authorization: Bearer $admin" "$@"; }
destinations() { curl -s -H "Authorization: Bearer $admin" "$base/api/v1/streams/cam/rtmp"; }
field() {  # field ID JQ-FIELD
  destinations | jq -r --arg id "$1" ".destinations[] | select(.id == \$id) | $2"
}
wait_state() {  # wait_state ID STATE SECONDS -> seconds waited, or "timeout"
  local start=$(date +%s%N)
  for _ in $(seq $(($3 * 10))); do
    if [[ "$(field "$1" .state)" == "$2" ]]; then
      echo $(( ($(date +%s%N) - start) / 1000000 ))
      return
    fi
    sleep 0.1
  done
  echo timeout
}
probe() {  # probe STREAM-URL -> "aac FRAMES h264 FRAMES"
  timeout 30 ffprobe -v error -rw_timeout 10000000 -read_intervals %+3 -count_frames \
    -show_entries stream=codec_name,nb_read_frames -of csv=p=0 "$1" 2>/dev/null |
    sort | tr ',\n' '  '
}
enough_frames() {  # enough_frames "aac N h264 M" -> 1 when both > 10
  read -r a an v vn <<<"$1"
  truth "$([[ $a == aac && $v == h264 && ${an:-0} -gt 10 && ${vn:-0} -gt 10 ]] && echo 1)"
}

check "API without a token" 401 "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$base/api/v1/streams/cam/rtmp")"
check "API for a stream nobody publishes" 404 "$(api -X POST --data '{"url": "rtmp://127.0.0.1/live/x"}' "$base/api/v1/streams/cam/rtmp")"

"$livepipe" whip-publish "$base/whip/cam" --token "$(token publish cam)" --ice-address 127.0.0.1 \
  --size 320x240 --duration 90 >"$dir/pub.log" 2>&1 &
publisher=$!
pids+=($publisher)
for _ in $(seq 100); do grep -qs '^session ' "$dir/pub.log" && break; sleep 0.1; done

check "bad URL" 400 "$(api -X POST --data '{"url": "http://127.0.0.1/live/x"}' "$base/api/v1/streams/cam/rtmp")"
check "bad body" 400 "$(api -X POST --data 'nope' "$base/api/v1/streams/cam/rtmp")"
check "unknown destination" 404 "$(api -X DELETE "$base/api/v1/streams/cam/rtmp/99")"
check "wrong method" 405 "$(api -X PUT "$base/api/v1/streams/cam/rtmp")"
# B comes from the configuration (id 1); A is added at run time by the CLI.
id_a=$("$livepipe" rtmp add cam "rtmp://127.0.0.1:$port_a/live/cam" --server "$base" --token "$admin")
check "CLI add prints the id" 2 "$id_a"
id_b=1
check "B from the config" "rtmp://127.0.0.1:$port_b/live/cam" "$(field $id_b .url)"
check "A live" 1 "$(truth "$([[ $(wait_state $id_a live 20) != timeout ]] && echo 1)")"
check "B live" 1 "$(truth "$([[ $(wait_state $id_b live 20) != timeout ]] && echo 1)")"
check "API says passthrough" false "$(destinations | jq -r .videoTranscoded)"

probed=$(probe "rtmp://127.0.0.1:$port_a/live/cam")
check "ffprobe reads H.264 and AAC from A ($probed)" 1 "$(enough_frames "$probed")"
probed=$(probe "rtmp://127.0.0.1:$port_b/live/cam")
check "ffprobe reads H.264 and AAC from B ($probed)" 1 "$(enough_frames "$probed")"

# Fault: A dies and comes back while a viewer watches and B streams on.
"$livepipe" whep-play "$base/whep/cam" --token "$(token play cam)" --ice-address 127.0.0.1 \
  --duration 20 --stall 2 >"$dir/view.log" 2>&1 &
viewer=$!
pids+=($viewer)
for _ in $(seq 100); do grep -qs 'first frame' "$dir/view.log" && break; sleep 0.1; done
# A stalled destination (its server frozen, the connection open) holds up
# nobody: B keeps sending meanwhile.
b_before=$(field $id_b .bytesSent)
kill -STOP "$pid_a"
sleep 4
check "B sends while A is frozen" 1 "$(truth "$(( $(field $id_b .bytesSent) > b_before + 40000 ))")"
kill -CONT "$pid_a"
b_before=$(field $id_b .bytesSent)
kill -KILL "$pid_a"
wait "$pid_a" 2>/dev/null
check "A retrying after its server died" 1 "$(truth "$([[ $(wait_state $id_a retrying 10) != timeout ]] && echo 1)")"
check "A says why" 1 "$(truth "$([[ -n $(field $id_a .lastError) ]] && echo 1)")"
next=$(field $id_a .nextAttemptUnixMs)
check "next attempt within the backoff bound" 1 "$(truth "$(( next - $(date +%s%3N) <= 2000 ))")"
sleep 3
start_nginx a $port_a
waited=$(wait_state $id_a live 15)
# Backoff at most 2 s, then the connection and a key frame.
check "A live again within 8 s of the restart ($waited ms)" 1 "$(truth "$([[ $waited != timeout && $waited -le 8000 ]] && echo 1)")"
check "A reconnected" 1 "$(truth "$(( $(field $id_a .attempts) >= 2 ))")"
probed=$(probe "rtmp://127.0.0.1:$port_a/live/cam")
check "ffprobe reads A again ($probed)" 1 "$(enough_frames "$probed")"
check "B never reconnected" 1 "$(field $id_b .attempts)"
check "B kept sending" 1 "$(truth "$(( $(field $id_b .bytesSent) > b_before + 50000 ))")"
check "B still live" live "$(field $id_b .state)"
wait "$viewer"
check "viewer never stalled" 0 $?
frames=$(sed -n 's/^frames decoded: //p' "$dir/view.log")
check "viewer kept receiving (frames $frames)" 1 "$(truth "$([[ ${frames:-0} -ge 300 ]] && echo 1)")"

curl -s "$base/metrics" >"$dir/metrics"
check "metrics: two live" 2 "$(sed -n 's/^livepipe_rtmp_destinations{state="live"} //p' "$dir/metrics")"
check "metrics: bytes of B" 1 "$(truth "$(( $(sed -n "s/^livepipe_rtmp_sent_bytes_total{stream=\"cam\",id=\"$id_b\"} //p" "$dir/metrics") > 0 ))")"

"$livepipe" rtmp remove cam "$id_a" --server "$base" --token "$admin"
check "CLI remove" 0 $?
"$livepipe" rtmp remove cam "$id_a" --server "$base" --token "$admin" 2>/dev/null
check "CLI remove again fails" 1 $?
check "CLI list shows B only" "$id_b" "$("$livepipe" rtmp list cam --server "$base" --token "$admin" | jq -r '[.destinations[].id] | join(",")')"

kill -INT "$publisher"
wait "$publisher"
for _ in $(seq 50); do [[ $(api "$base/api/v1/streams/cam/rtmp") == 404 ]] && break; sleep 0.1; done
check "destinations end with the stream" 404 "$(api "$base/api/v1/streams/cam/rtmp")"

# A VP8 publisher (what browsers send): the restream is H.264 + AAC, encoded once.
"$livepipe" whip-publish "$base/whip/vp8cam" --codec vp8 --token "$(token publish vp8cam)" \
  --ice-address 127.0.0.1 --size 320x240 --duration 60 >"$dir/pub-vp8.log" 2>&1 &
vp8_publisher=$!
pids+=($vp8_publisher)
for _ in $(seq 100); do grep -qs '^session ' "$dir/pub-vp8.log" && break; sleep 0.1; done
vp8_id=$(curl -s -H "Authorization: Bearer $admin" -X POST \
  --data "{\"url\": \"rtmp://127.0.0.1:$port_a/live/vp8cam\"}" \
  "$base/api/v1/streams/vp8cam/rtmp" | jq -r .id)
check "VP8 stream: destination added" 1 "$(truth "$([[ -n $vp8_id && $vp8_id != null ]] && echo 1)")"
for _ in $(seq 200); do
  [[ $(curl -s -H "Authorization: Bearer $admin" "$base/api/v1/streams/vp8cam/rtmp" |
       jq -r '.destinations[0].state') == live ]] && break
  sleep 0.1
done
check "VP8 stream: transcoded" true \
  "$(curl -s -H "Authorization: Bearer $admin" "$base/api/v1/streams/vp8cam/rtmp" | jq -r .videoTranscoded)"
probed=$(probe "rtmp://127.0.0.1:$port_a/live/vp8cam")
check "VP8 stream: ffprobe reads H.264 and AAC ($probed)" 1 "$(enough_frames "$probed")"
kill -INT "$vp8_publisher"
wait "$vp8_publisher"

stop_livepipe
finish
