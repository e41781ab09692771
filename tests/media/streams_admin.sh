#!/usr/bin/env bash
# The streams admin API (/api/v1/streams) against a real `livepipe serve` with
# real WHIP/WHEP sessions (livepipe whip-publish / whep-play): the list shows
# them, kicking ends exactly that viewer, ending the stream ends every viewer;
# token errors and unknown resources. Runs inside a loopback-only namespace.
#   streams_admin.sh LIVEPIPE
livepipe=$1
source "$(dirname "$0")/../support/fixture.sh"
secret=0123456789abcdef0123456789abcdef
port=18182
base=http://127.0.0.1:$port
cat > "$dir/config.json" <<JSON
{"auth": {"secret": "$secret"}, "media": {"iceAddresses": ["127.0.0.1"]}}
JSON
token() { "$livepipe" token --secret "$secret" --role "$1" ${2:+--stream "$2"}; }
admin=$(token admin)
pub=$(token publish cam)
play=$(token play cam)

serve_livepipe "$dir/config.json" "$port"

status() { curl -s -o "$dir/body" -w '%{http_code}' "$@"; }
api() { curl -s -H "Authorization: Bearer $admin" "$base/api/v1/$1"; }
# JSON reading with node (the browser tests need it anyway): prints the
# JavaScript expression $1 over the parsed body d.
field() { node -e "const d = JSON.parse(require('fs').readFileSync(0, 'utf8')); console.log($1)"; }

check "list without a token" 401 "$(status "$base/api/v1/streams")"
check "401 names the problem" 1 "$(grep -c '"error"' "$dir/body")"
check "list with a bad token" 401 "$(status -H 'Authorization: Bearer nope' "$base/api/v1/streams")"
check "list with a play token" 403 "$(status -H "Authorization: Bearer $play" "$base/api/v1/streams")"
check "end with a publish token" 403 "$(status -X DELETE -H "Authorization: Bearer $pub" "$base/api/v1/streams/cam")"
check "token in the query" 200 "$(status "$base/api/v1/streams?token=$admin")"
check "empty list" 0 "$(api streams | field 'd.streams.length')"
check "unknown stream" 404 "$(status -H "Authorization: Bearer $admin" "$base/api/v1/streams/cam")"
check "end unknown stream" 404 "$(status -X DELETE -H "Authorization: Bearer $admin" "$base/api/v1/streams/cam")"
check "POST on the list" 405 "$(status -X POST -H "Authorization: Bearer $admin" "$base/api/v1/streams")"

"$livepipe" whip-publish "$base/whip/cam" --token "$pub" --ice-address 127.0.0.1 --size 320x240 \
  --duration 60 >"$dir/pub.log" 2>&1 &
publisher=$!
pids+=($publisher)
for _ in $(seq 100); do grep -q '^session ' "$dir/pub.log" && break; sleep 0.1; done
viewer() { "$livepipe" whep-play "$base/whep/cam" --token "$play" --ice-address 127.0.0.1 "$@"; }
viewer --duration 40 --stall 2 >"$dir/a.log" 2>&1 &
a=$!
pids+=($a)
viewer --duration 40 --stall 2 >"$dir/b.log" 2>&1 &
b=$!
pids+=($b)
for _ in $(seq 150); do
  grep -q 'first frame' "$dir/a.log" && grep -q 'first frame' "$dir/b.log" && break
  sleep 0.1
done
check "viewer a decodes" 1 "$(grep -c 'first frame' "$dir/a.log")"
check "viewer b decodes" 1 "$(grep -c 'first frame' "$dir/b.log")"
first_b=$(date +%s)
sleep 2  # let the once-a-second sampler see the incoming bitrate

api streams >"$dir/list.json"
check "list: one stream" 1 "$(field 'd.streams.length' <"$dir/list.json")"
check "list: its name" cam "$(field 'd.streams[0].name' <"$dir/list.json")"
check "list: publisher connected" true \
  "$(field '["connected", "completed"].includes(d.streams[0].publisher.state)' <"$dir/list.json")"
check "list: codecs" "H264 OPUS" "$(field 'd.streams[0].codecs.map((c) => c.codec).join(" ")' <"$dir/list.json")"
check "list: two viewers" 2 "$(field 'd.streams[0].viewerCount' <"$dir/list.json")"
check "list: bitrate in" true "$(field 'd.streams[0].bitrateIn > 10000' <"$dir/list.json")"
check "list: bytes in and out" true \
  "$(field 'd.streams[0].bytesIn > 0 && d.streams[0].bytesOut > 0' <"$dir/list.json")"
check "list: uptime" true "$(field 'd.streams[0].uptimeSeconds >= 0 && d.streams[0].uptimeSeconds < 60' <"$dir/list.json")"

api streams/cam >"$dir/cam.json"
check "detail: two viewers listed" 2 "$(field 'd.viewers.length' <"$dir/cam.json")"
check "detail: viewers received bytes" true "$(field 'd.viewers.every((v) => v.bytesOut > 0)' <"$dir/cam.json")"
ids=($(field 'd.viewers.map((v) => v.id).join(" ")' <"$dir/cam.json"))
check "kick unknown viewer" 404 "$(status -X DELETE -H "Authorization: Bearer $admin" "$base/api/v1/streams/cam/viewers/nobody")"
check "kick with a play token" 403 "$(status -X DELETE -H "Authorization: Bearer $play" "$base/api/v1/streams/cam/viewers/${ids[0]}")"

# Viewer ids follow arrival order, but which process arrived first is not
# known: kick the first id and find out which viewer it was.
check "kick a viewer" 204 "$(status -X DELETE -H "Authorization: Bearer $admin" "$base/api/v1/streams/cam/viewers/${ids[0]}")"
kicked=""
for _ in $(seq 80); do
  kill -0 $a 2>/dev/null || { kicked=a; break; }
  kill -0 $b 2>/dev/null || { kicked=b; break; }
  sleep 0.1
done
check "the kicked viewer ended" 1 "$([[ -n $kicked ]] && echo 1 || echo 0)"
if [[ $kicked == a ]]; then kept=$b; kept_log=$dir/b.log; else kept=$a; kept_log=$dir/a.log; fi
if [[ -n $kicked ]]; then
  wait "$( [[ $kicked == a ]] && echo $a || echo $b )"
  check "the kicked viewer saw its stream stop" 1 $?
fi
check "kick again" 404 "$(status -X DELETE -H "Authorization: Bearer $admin" "$base/api/v1/streams/cam/viewers/${ids[0]}")"
check "the other viewer stays" 1 "$(kill -0 $kept 2>/dev/null && echo 1 || echo 0)"
api streams/cam >"$dir/cam.json"
check "detail: one viewer left" "${ids[1]}" "$(field 'd.viewers.map((v) => v.id).join(" ")' <"$dir/cam.json")"

sleep 3
check "end the stream" 204 "$(status -X DELETE -H "Authorization: Bearer $admin" "$base/api/v1/streams/cam")"
ended=$(date +%s)
wait $kept
check "the last viewer ended with the stream" 1 $?
check "it ended within 5 s" 1 "$(( $(date +%s) - ended <= 5 ))"
frames=$(sed -n 's/^frames decoded: //p' "$kept_log")
# About 5 s of video at 30 fps went by between its first frame and the end:
# far fewer frames means the kick interrupted it.
seconds=$((ended - first_b))
check "the other viewer kept receiving ($frames frames in ${seconds}s)" 1 \
  "$([[ ${frames:-0} -ge $((seconds * 15)) ]] && echo 1 || echo 0)"
check "stream gone" 404 "$(status -H "Authorization: Bearer $admin" "$base/api/v1/streams/cam")"
check "list empty again" 0 "$(api streams | field 'd.streams.length')"
kill -INT $publisher
wait $publisher
check "the publisher's session is gone" 1 "$(grep -c 'DELETE: 404' "$dir/pub.log")"

stop_livepipe
finish
