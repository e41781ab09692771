#!/usr/bin/env bash
# Latency of one stamped source over WHEP and over RTMP through `livepipe
# serve`, read back from the decoded pictures (bench_rtmp_latency). This starts
# an nginx-rtmp for the restream, `livepipe serve` restreaming `cam` to it and
# running its own nginx-rtmp for ingest, then the benchmark. Loopback only: run
# it inside a fresh network namespace:
#   unshare -n sh -c 'ip link set lo up && bench/rtmp/latency.sh build [SECONDS [ARGS...]]'
# ARGS go to bench_rtmp_latency (e.g. --whip-audio no). DESCRIPTION=NAME in
# the environment runs the stream with another description (a moderated one).
set -uo pipefail
build=$(realpath "$1")
seconds=${2:-30}
shift $(($# < 2 ? $# : 2))
livepipe=$build/apps/livepipe
bench=$build/bench/bench_rtmp_latency
dir=$(mktemp -d)
pids=()
cleanup() {
  # Newest first: the server (and its nginx) before the nginx it restreams to.
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill "${pids[i]}" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT
# A new, empty namespace: fixed ports cannot clash.
port=18391
restream=19491
ingest=19492
base=http://127.0.0.1:$port
mkdir -p "$dir/nginx/logs"
cat > "$dir/nginx/nginx.conf" <<CONF
daemon off;
master_process off;
pid $dir/nginx/nginx.pid;
error_log $dir/nginx/error.log;
load_module /usr/lib/nginx/modules/ngx_rtmp_module.so;
events {}
rtmp { server { listen 127.0.0.1:$restream; application live { live on; record off; } } }
CONF
nginx -p "$dir/nginx/" -c "$dir/nginx/nginx.conf" -e "$dir/nginx/error.log" &
pids+=($!)
# DESCRIPTION=NAME runs `cam` with that description instead of the default
# (a moderated one gets a hook that allows every snapshot).
rule=${DESCRIPTION:+', "rules": [{"match": "cam", "description": "'$DESCRIPTION'"}]'}
moderation=${DESCRIPTION:+', "moderation": {"hookUri": "exec:/bin/echo {\\\"verdict\\\":\\\"allow\\\"}"}'}
cat > "$dir/config.json" <<JSON
{"media": {"iceAddresses": ["127.0.0.1"]$rule},
 "rtmp": {"destinations": [{"stream": "cam", "url": "rtmp://127.0.0.1:$restream/live/cam"}]}$moderation}
JSON
"$livepipe" serve --config "$dir/config.json" --listen 127.0.0.1:$port \
  --rtmp-listen 127.0.0.1:$ingest >"$dir/serve.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  curl -sf "$base/healthz" >/dev/null && (exec 3<>/dev/tcp/127.0.0.1/$ingest) 2>/dev/null && break
  sleep 0.1
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
"$bench" --server "$base" --restream-rtmp "rtmp://127.0.0.1:$restream/live" \
  --ingest-rtmp "rtmp://127.0.0.1:$ingest/live" --seconds "$seconds" "$@" 2>"$dir/bench.err"
status=$?
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
if ((status)); then
  # ffmpeg's and GStreamer's complaints (ffmpeg's players start mid-GOP).
  echo "--- stderr"; tail -30 "$dir/bench.err"
  echo "--- serve.log"; tail -30 "$dir/serve.log"
fi
exit $status
