#!/usr/bin/env bash
# CPU cost of RTMP restreams in `livepipe serve`, against ffmpeg doing the same
# job in the same run. A WHIP publisher (our client, H.264 + Opus) streams to
# the server; the server's CPU is measured with no restream, one (H.264
# passthrough + Opus -> AAC, which runs once per stream) and two (the second
# only adds a destination). The peer: ffmpeg relaying the first restream from
# nginx to nginx with the video copied and the audio decoded and encoded to
# AAC (`-c:v copy -c:a aac`), the usual ffmpeg restream command.
# Loopback only: run it inside a fresh network namespace:
#   unshare -n sh -c 'ip link set lo up && bench/rtmp/restream_cpu.sh build/apps/livepipe [SECONDS]'
set -uo pipefail
livepipe=$(realpath "$1")
seconds=${2:-20}
dir=$(mktemp -d)
pids=()
cleanup() {
  # Newest first: the peer and the server before the nginx they talk to.
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill "${pids[i]}" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT
port=18291
rtmp=19391
base=http://127.0.0.1:$port
mkdir -p "$dir/nginx/logs"
cat > "$dir/nginx/nginx.conf" <<CONF
daemon off;
master_process off;
pid $dir/nginx/nginx.pid;
error_log $dir/nginx/error.log;
load_module /usr/lib/nginx/modules/ngx_rtmp_module.so;
events {}
rtmp { server { listen 127.0.0.1:$rtmp; application live { live on; record off; } } }
CONF
nginx -p "$dir/nginx/" -c "$dir/nginx/nginx.conf" -e "$dir/nginx/error.log" &
pids+=($!)
echo '{"media": {"iceAddresses": ["127.0.0.1"]}}' > "$dir/config.json"
"$livepipe" serve --config "$dir/config.json" --listen 127.0.0.1:$port >"$dir/serve.log" 2>&1 &
serve=$!
pids+=($serve)
for _ in $(seq 50); do curl -sf "$base/healthz" >/dev/null && break; sleep 0.1; done
"$livepipe" whip-publish "$base/whip/cam" --ice-address 127.0.0.1 --size 1280x720 \
  --duration $((seconds * 5 + 30)) >"$dir/pub.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do grep -qs '^session ' "$dir/pub.log" && break; sleep 0.1; done
sleep 3

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
# cpu PID...: percent of one core used by the PIDs over $seconds.
cpu() {
  local before=0 after=0 pid
  for pid in "$@"; do before=$((before + $(ticks "$pid"))); done
  sleep "$seconds"
  for pid in "$@"; do after=$((after + $(ticks "$pid"))); done
  echo "scale=2; ($after - $before) * 100 / $hz / $seconds" | bc
}
add() {
  curl -s -X POST --data "{\"url\": \"rtmp://127.0.0.1:$rtmp/live/$1\"}" \
    "$base/api/v1/streams/cam/rtmp" | sed -n 's/.*"id":"\([0-9]*\)".*/\1/p'
}
live() {
  for _ in $(seq 100); do
    [[ $(curl -s "$base/api/v1/streams/cam/rtmp" | grep -o '"state":"live"' | wc -l) -ge $1 ]] && return
    sleep 0.1
  done
  echo "the restreams did not go live" >&2
  exit 1
}

none=$(cpu "$serve")
add one >/dev/null
live 1
sleep 2
one=$(cpu "$serve")
add two >/dev/null
live 2
sleep 2
two=$(cpu "$serve")
# The peer reads what the first restream sends and pushes it on.
ffmpeg -hide_banner -loglevel error -i "rtmp://127.0.0.1:$rtmp/live/one" -c:v copy -c:a aac \
  -b:a 128k -f flv "rtmp://127.0.0.1:$rtmp/live/peer" &
peer=$!
pids+=($peer)
sleep 3
peer_cpu=$(cpu "$peer")
first=$(echo "$one - $none" | bc)
second=$(echo "$two - $one" | bc)
printf '%-52s %8s\n' "1280x720 WHIP stream, $seconds s per figure" "% core"
printf '%-52s %8s\n' "livepipe serve, no restream" "$none"
printf '%-52s %8s\n' "livepipe: first restream (Opus->AAC + passthrough)" "$first"
printf '%-52s %8s\n' "livepipe: second restream (passthrough only)" "$second"
printf '%-52s %8s\n' "ffmpeg -c:v copy -c:a aac relay (peer)" "$peer_cpu"
printf '%-52s %8s\n' "ratio first restream / ffmpeg" "$(echo "scale=2; $first / $peer_cpu" | bc)"
printf '%-52s %8s\n' "ratio second restream / ffmpeg" "$(echo "scale=2; $second / $peer_cpu" | bc)"
