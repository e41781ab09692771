#!/usr/bin/env bash
# One 720p30 1 Mb/s H.264 stream to N WebRTC viewers: `livepipe serve` against
# Janus 1.1.2's streaming plugin, in the same run, on the same RTP.
#
# One sender process (fanout_bench sender) encodes once and sends the same RTP
# packets to livepipe (WHIP) and to a Janus RTP mountpoint. For each N and
# each server a separate viewer process (fanout_bench viewers) opens N
# webrtcbin receivers (WHEP for livepipe; Janus's HTTP API, "watch"/"start",
# for Janus) and reports the server's CPU, memory and threads, per-viewer
# received rate, time to first decoded frame and packet latency.
#
# Janus runs with a private config (own folder, own ports, loopback only) and
# is stopped by PID. Machine-local only: run it inside a fresh network namespace:
#   unshare -n sh -c 'ip link set lo up && bench/media/fanout.sh build [SECONDS] [N...]'
set -uo pipefail
build=$(realpath "$1")
seconds=${2:-10}
shift 2 2>/dev/null || shift $#
counts=("$@")
((${#counts[@]})) || counts=(1 10 25 50)
livepipe=$build/apps/livepipe
bench=$build/bench/media/fanout_bench
janus_plugins=/usr/lib/x86_64-linux-gnu/janus
command -v janus >/dev/null || { echo "janus is not installed (scripts/setup.sh)" >&2; exit 1; }
if ip -o link show | grep -qv ' lo:'; then
  echo "run this inside a loopback-only network namespace (see the header)" >&2
  exit 1
fi
# Janus never gathers candidates on a loopback interface (janus_ice_setup_local
# skips IFF_LOOPBACK), so the namespace gets a veth pair whose two ends stay
# inside it, and every ICE agent here (livepipe, Janus, sender, viewers) uses
# its address. Packets to a local address are delivered through lo: nothing
# leaves the namespace and both servers see the same path.
addr=10.77.0.1
ip link add lpbench0 type veth peer name lpbench1 &&
  ip addr add $addr/32 dev lpbench0 && ip link set lpbench0 up && ip link set lpbench1 up ||
  { echo "cannot create the veth pair for Janus's candidates" >&2; exit 1; }
dir=$(mktemp -d)
pids=()
cleanup() {
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill "${pids[i]}" 2>/dev/null; done
  wait 2>/dev/null
  [[ -n ${KEEP_DIR:-} ]] && { echo "kept $dir"; return; }
  rm -rf "$dir"
}
trap cleanup EXIT

port=18491        # livepipe serve
janus_http=18492  # Janus REST API
rtp=18494         # Janus mountpoint's video port

# Janus: HTTP transport and the streaming plugin only, ICE on lo only. The
# mountpoint buffers the last key frame for new viewers (videobufferkf), as
# Janus deployments do for fast starts.
mkdir -p "$dir/janus"
all_plugins=$(cd "$janus_plugins/plugins" && ls *.so | grep -v streaming | paste -sd,)
all_transports=$(cd "$janus_plugins/transports" && ls *.so | grep -v http | paste -sd,)
cat > "$dir/janus/janus.jcfg" <<CONF
general: {
  configs_folder = "$dir/janus"
  plugins_folder = "$janus_plugins/plugins"
  transports_folder = "$janus_plugins/transports"
  events_folder = "$janus_plugins/events"
  loggers_folder = "$janus_plugins/loggers"
  debug_level = 3
  session_timeout = 120
}
plugins: { disable = "$all_plugins" }
transports: { disable = "$all_transports" }
loggers: { disable = "libjanus_jsonlog.so" }
media: { rtp_port_range = "30000-30999" }
nat: { ice_enforce_list = "lpbench0" }
CONF
cat > "$dir/janus/janus.transport.http.jcfg" <<CONF
general: { json = "compact" base_path = "/janus" http = true port = $janus_http ip = "127.0.0.1" https = false }
admin: { admin_http = false admin_https = false }
CONF
cat > "$dir/janus/janus.plugin.streaming.jcfg" <<CONF
general: { }
bench: {
  type = "rtp"
  id = 1
  description = "bench"
  audio = false
  video = true
  videoport = $rtp
  videoiface = "127.0.0.1"
  videopt = 96
  videocodec = "h264"
  videofmtp = "profile-level-id=42e01f;packetization-mode=1"
  videobufferkf = true
}
CONF
janus -C "$dir/janus/janus.jcfg" -F "$dir/janus" -o >"$dir/janus.log" 2>&1 &
janus_pid=$!
pids+=($janus_pid)

# TRANSPORT=webrtcbin measures the other viewer transport (default shared).
echo "{\"media\": {\"iceAddresses\": [\"$addr\"], \"viewerTransport\": \"${TRANSPORT:-shared}\"}}" \
  > "$dir/config.json"
"$livepipe" serve --config "$dir/config.json" --listen 127.0.0.1:$port >"$dir/serve.log" 2>&1 &
serve_pid=$!
pids+=($serve_pid)
for _ in $(seq 50); do
  curl -sf "http://127.0.0.1:$port/healthz" >/dev/null &&
    curl -sf "http://127.0.0.1:$janus_http/janus/info" >/dev/null && break
  sleep 0.2
done

"$bench" sender --whip "http://127.0.0.1:$port/whip/bench" --rtp "127.0.0.1:$rtp" \
  --log "$dir/sent.log" --kbps 1000 --ice-address $addr >"$dir/sender.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do grep -qs '^session ' "$dir/sender.log" && break; sleep 0.1; done
grep -qs '^session ' "$dir/sender.log" || { echo "the sender did not publish:" >&2; cat "$dir/sender.log" >&2; exit 1; }
sleep 3

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
results=$dir/results
run() {  # run NAME N
  local args
  if [[ $1 == livepipe ]]; then
    args=(--whep "http://127.0.0.1:$port/whep/bench" --server-pid "$serve_pid")
  else
    args=(--janus "http://127.0.0.1:$janus_http/janus" --mountpoint 1 --server-pid "$janus_pid")
  fi
  "$bench" viewers "${args[@]}" --name "$1" --count "$2" --sent "$dir/sent.log" \
    --seconds "$seconds" --latency "${VIEWER_LATENCY_MS:-50}" --ice-address $addr >"$dir/viewers.log" 2>&1
  grep -E '^(result|first error)' "$dir/viewers.log" | tee -a "$results"
  sleep 2  # the servers drop the sessions the viewers ended
}
for n in "${counts[@]}"; do
  # Alternate which server goes first.
  if ((n % 2)); then run livepipe "$n"; run janus "$n"; else run janus "$n"; run livepipe "$n"; fi
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

# Slopes (least squares over N) of CPU, memory and threads, and the ratios.
# A round counts only when every viewer received the full rate (95 % of the
# payload sent in the window): beyond that the viewer process is the limit.
awk '
  /^result/ {
    for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
    s = f["server"]; n = f["n"]
    split(f["full_rate"], fr, "/")
    if (fr[1] != fr[2]) { printf "%s N=%d left out: %s viewers got the full rate\n", s, n, f["full_rate"]; next }
    used[s] = used[s] " " n
    sn[s] += n; sx[s] += n * n; k[s]++
    sc[s] += f["cpu_pct"]; scn[s] += n * f["cpu_pct"]
    sm[s] += f["rss_mib"]; smn[s] += n * f["rss_mib"]
    st[s] += f["threads"]; stn[s] += n * f["threads"]
  }
  function slope(sy, syn, s) { return (k[s] * syn - sn[s] * sy) / (k[s] * sx[s] - sn[s] * sn[s]) }
  END {
    printf "\nper viewer (least-squares slope)   %% of a core      MiB   threads   over N =\n"
    for (s in k) {
      if (k[s] < 2) continue
      c[s] = slope(sc[s], scn[s], s); m[s] = slope(sm[s], smn[s], s); t[s] = slope(st[s], stn[s], s)
      printf "%-32s %12.3f %8.3f %9.2f  %s\n", s, c[s], m[s], t[s], used[s]
    }
    if (k["livepipe"] >= 2 && k["janus"] >= 2)
      printf "ratio livepipe/janus             %12.2f %8.2f %9.2f\n",
        c["livepipe"] / c["janus"], m["livepipe"] / m["janus"], t["livepipe"] / t["janus"]
  }' "$results"
