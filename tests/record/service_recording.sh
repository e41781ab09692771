#!/usr/bin/env bash
# Recordings and replay jobs in `livepipe serve`, driven over the admin API
# as users do: a stream recorded from its start by a config rule, stopped and
# started again while it is published (a viewer keeps receiving), instant
# replay while it runs, clip and VOD jobs whose files ffprobe opens, the
# catalog after a kill -9 and a restart, auth errors and hostile input.
# Runs inside a network namespace whose only interface is lo (in_netns.sh).
#   service_recording.sh LIVEPIPE
livepipe=$1
source "$(dirname "$0")/../support/fixture.sh"
fixture_kill_signal=KILL
secret=0123456789abcdef0123456789abcdef
port=18191
base=http://127.0.0.1:$port
data=$dir/data
cat > "$dir/config.json" <<JSON
{"auth": {"secret": "$secret"},
 "media": {"iceAddresses": ["127.0.0.1"], "idleTimeoutSeconds": 4},
 "recording": {"dir": "$data", "streams": ["ca?"], "segmentSeconds": 2, "maxConcurrentJobs": 2}}
JSON
token() { "$livepipe" token --secret "$secret" --role "$1" ${2:+--stream "$2"}; }
admin=$(token admin)
pub=$(token publish cam)
play=$(token play cam)
api() {  # api METHOD PATH [BODY]: status code; the body in $dir/body
  curl -s -o "$dir/body" -w '%{http_code}' -X "$1" -H "Authorization: Bearer $admin" \
    ${3:+-H 'Content-Type: application/json' --data-binary "$3"} "$base$2"
}
playable() {  # playable FILE: ffprobe opens it and finds video
  [[ $(ffprobe -v error -select_streams v:0 -show_entries stream=codec_name -of csv=p=0 "$1") == h264 ]]
}
serve_livepipe "$dir/config.json" "$port"

# Auth: the recording endpoints are admin endpoints.
check "no token" 401 "$(curl -s -o /dev/null -w '%{http_code}' "$base/api/v1/recordings")"
check "play token" 403 "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $play" "$base/api/v1/recordings")"
check "publish token on jobs" 403 "$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $pub" --data '{"type":"vod","recording":1}' "$base/api/v1/jobs")"
check "empty catalog" 200 "$(api GET /api/v1/recordings)"
check "empty catalog lists nothing" 0 "$(json "$dir/body" 'len(d["recordings"])')"

# Hostile input.
check "bad recording id" 400 "$(api GET /api/v1/recordings/abc)"
check "negative recording id" 400 "$(api GET /api/v1/recordings/-1)"
check "unknown recording" 404 "$(api GET /api/v1/recordings/999)"
check "bad state filter" 400 "$(api GET '/api/v1/recordings?state=paused')"
check "bad time filter" 400 "$(api GET '/api/v1/recordings?from=yesterday')"
check "inverted time range" 400 "$(api GET '/api/v1/recordings?from=2000&to=1000')"
check "unknown filter" 400 "$(api GET '/api/v1/recordings?colour=red')"
check "recordings are read-only" 405 "$(api DELETE /api/v1/recordings)"
check "job body not JSON" 400 "$(api POST /api/v1/jobs 'clip please')"
check "job of unknown type" 400 "$(api POST /api/v1/jobs '{"type":"gif","recording":1}')"
check "job with end before start" 400 "$(api POST /api/v1/jobs '{"type":"clip","recording":1,"start":5,"end":2}')"
check "job with negative start" 400 "$(api POST /api/v1/jobs '{"type":"clip","recording":1,"start":-3}')"
check "job of unknown recording" 404 "$(api POST /api/v1/jobs '{"type":"vod","recording":999}')"
check "bad job id" 400 "$(api GET /api/v1/jobs/1x)"
check "unknown job" 404 "$(api GET /api/v1/jobs/999)"
check "cancel unknown job" 404 "$(api DELETE /api/v1/jobs/999)"
check "record a stream nobody publishes" 404 "$(api POST /api/v1/streams/cam/recording)"
check "stop a recording that does not run" 404 "$(api DELETE /api/v1/streams/cam/recording)"
check "instant replay of no stream" 404 "$(api POST /api/v1/streams/cam/instant-replay '{"seconds":5}')"
check "instant replay without seconds" 400 "$(api POST /api/v1/streams/cam/instant-replay '{}')"
check "instant replay too long" 400 "$(api POST /api/v1/streams/cam/instant-replay '{"seconds":100000}')"

# Publishing "cam" starts a recording (the config rule "ca?").
"$livepipe" whip-publish "$base/whip/cam" --token "$pub" --ice-address 127.0.0.1 --size 320x240 \
  --duration 300 >"$dir/pub.log" 2>&1 &
publisher=$!
pids+=($publisher)
wait_for 20 grep -q '^session ' "$dir/pub.log"
recording_runs() { [[ $(api GET /api/v1/streams/cam/recording) == 200 ]]; }
wait_for 10 recording_runs
check "the config rule records cam" 200 "$(api GET /api/v1/streams/cam/recording)"
first=$(json "$dir/body" 'd["id"]')
check "already recording" 409 "$(api POST /api/v1/streams/cam/recording)"

# A viewer watches while the recording is stopped and started again.
"$livepipe" whep-play "$base/whep/cam" --token "$play" --ice-address 127.0.0.1 --duration 14 \
  >"$dir/view.log" 2>&1 &
viewer=$!
pids+=($viewer)
# Two finished segments (2 s each) before stopping.
two_segments() { api GET /api/v1/recordings/$first >/dev/null; (( $(json "$dir/body" 'd["segmentCount"]') >= 2 )); }
wait_for 20 two_segments
check "segments reach the catalog while recording" 0 $?
# The CLI wrapper stops it.
"$livepipe" recording --server "$base" --token "$admin" stop cam >"$dir/stop.json"
check "livepipe recording stop" "0 True" "$? $(json "$dir/stop.json" 'd["stopping"]')"
finished() { api GET /api/v1/recordings/$1 >/dev/null; [[ $(json "$dir/body" 'd["state"]') == finished ]]; }
wait_for 15 finished "$first"
check "stopped recording is finished" finished "$(json "$dir/body" 'd["state"]')"
cp "$dir/body" "$dir/first.json"
for path in $(json "$dir/first.json" '" ".join(s["path"] for s in d["segments"])'); do
  f="$data/recordings/cam/$first/$path"
  playable "$f" && echo "ok   ffprobe plays $path" || { echo "FAIL ffprobe cannot play $f"; failures=$((failures + 1)); }
done
check "all segments complete" True "$(json "$dir/first.json" 'all(s["complete"] for s in d["segments"])')"
check "duration is the sum of the segments" True \
  "$(json "$dir/first.json" 'abs(d["duration"] - sum(s["duration"] for s in d["segments"])) < 0.01')"

LIVEPIPE_TOKEN=$admin "$livepipe" recording --server "$base" start cam >"$dir/start.json"
check "start again while publishing (livepipe recording start)" 0 $?
second=$(json "$dir/start.json" 'd["id"]')
"$livepipe" recording --server "$base" --token "$admin" start cam 2>"$dir/err"
check "the CLI reports a refusal" "1 1" "$? $(grep -c 'already being recorded' "$dir/err")"
check "a new recording" 1 "$(( second > first ))"

# Instant replay of the last 3 s while the stream and the recording run.
one_segment() { api GET /api/v1/recordings/$second >/dev/null; (( $(json "$dir/body" 'd["segmentCount"]') >= 2 )); }
wait_for 20 one_segment
check "instant replay" 202 "$(api POST /api/v1/streams/cam/instant-replay '{"seconds":3}')"
instant=$(json "$dir/body" 'd["id"]')
job_done() { api GET /api/v1/jobs/$1 >/dev/null; [[ $(json "$dir/body" 'd["state"]') == "$2" ]]; }
wait_for 30 job_done "$instant" done
check "instant replay done" done "$(json "$dir/body" 'd["state"] + d.get("error", "")')"
# The copy starts on the keyframe at or before "3 s ago" and the publisher
# sends one every 2 s; the recording's end on disk falls anywhere in a group
# of pictures (nothing is held back until the next keyframe), so 3 to 5 s.
instant_seconds=$(json "$dir/body" 'd["result"]["duration"]')
check "instant replay is about 3 s ($instant_seconds)" True "$(json "$dir/body" '2.0 <= d["result"]["duration"] <= 5.2')"
check "instant replay download" 200 "$(curl -s -o "$dir/instant.mp4" -w '%{http_code}' -H "Authorization: Bearer $admin" "$base/api/v1/jobs/$instant/output")"
playable "$dir/instant.mp4" && echo "ok   ffprobe plays the instant replay" || { echo "FAIL instant replay unplayable"; failures=$((failures + 1)); }
check "the stream still runs" 200 "$(api GET /api/v1/streams/cam/recording)"

wait "$viewer"
check "viewer exit" 0 $?
frames=$(sed -n 's/^frames decoded: //p' "$dir/view.log")
# 14 s at 30 fps less the time to connect, on a busy host: far fewer means
# the viewer stalled while the recorder was detached and attached.
check "viewer kept receiving (frames $frames)" 1 "$([[ ${frames:-0} -ge 150 ]] && echo 1 || echo 0)"

# Clip and VOD jobs on the finished recording.
check "clip job" 202 "$(api POST /api/v1/jobs "{\"type\":\"clip\",\"recording\":$first,\"start\":0.5,\"end\":3}")"
clip=$(json "$dir/body" 'd["id"]')
check "vod job" 202 "$(api POST /api/v1/jobs "{\"type\":\"vod\",\"recording\":$first}")"
vod=$(json "$dir/body" 'd["id"]')
check "clip past the end" 400 "$(api POST /api/v1/jobs "{\"type\":\"clip\",\"recording\":$first,\"start\":5000}")"
for job in $clip $vod; do
  wait_for 60 job_done "$job" done
  check "job $job done" done "$(json "$dir/body" 'd["state"] + d.get("error", "")')"
done
check "a finished job's progress" 1.0 "$(json "$dir/body" 'd["progress"]')"
curl -s -o "$dir/clip.mp4" -H "Authorization: Bearer $admin" "$base/api/v1/jobs/$clip/output"
playable "$dir/clip.mp4" && echo "ok   ffprobe plays the clip" || { echo "FAIL clip unplayable"; failures=$((failures + 1)); }
d=$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$dir/clip.mp4")
# Cut on keyframes: it starts at or before 0.5 s and ends before 3 s.
check "the clip lasts 2.5 to 3 s ($d)" True "$(python3 -c "print(2.4 <= $d <= 3.05)")"
check "playlist download" 200 "$(curl -s -o "$dir/index.m3u8" -w '%{http_code}' -H "Authorization: Bearer $admin" "$base/api/v1/jobs/$vod/files/index.m3u8")"
head -1 "$dir/index.m3u8" | grep -q '#EXTM3U' && echo "ok   playlist" || { echo "FAIL playlist"; failures=$((failures + 1)); }
api GET /api/v1/jobs/$vod >/dev/null
vod_dir=$(json "$dir/body" 'd["output"]["path"]')
n=$(ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames \
  -of csv=p=0 "$vod_dir/index.m3u8" | awk 'NF && !done {print; done=1}')
check "ffprobe decodes the VOD ($n frames)" 1 "$([[ ${n:-0} -ge 100 ]] && echo 1 || echo 0)"
escape=$(api GET "/api/v1/jobs/$vod/files/..%2F..%2F$clip%2Fclip.mp4")
check "file names cannot escape ($escape)" 1 "$([[ $escape == 400 || $escape == 404 ]] && echo 1 || echo 0)"
check "a clip has no files/" 404 "$(api GET /api/v1/jobs/$clip/files/index.m3u8)"
check "delete a finished job" 204 "$(api DELETE /api/v1/jobs/$clip)"
check "deleted job is gone" 404 "$(api GET /api/v1/jobs/$clip)"
check "its file too" 1 "$([[ ! -e $data/jobs/$clip ]] && echo 1 || echo 0)"
"$livepipe" recording --server "$base" --token "$admin" list --stream cam >"$dir/list.json"
check "filter by stream (livepipe recording list)" 2 "$(json "$dir/list.json" 'len(d["recordings"])')"
check "filter by state" "[$second]" "$(api GET '/api/v1/recordings?state=recording' >/dev/null; json "$dir/body" '[r["id"] for r in d["recordings"]]')"

# kill -9 while recording: after a restart the recording is "interrupted"
# and its segments, crash-safe, are listed and play.
kill -9 "$server"
wait "$server" 2>/dev/null
kill -9 "$publisher" 2>/dev/null
serve_livepipe "$dir/config.json" "$port"
check "catalog after restart" 200 "$(api GET /api/v1/recordings/$second)"
check "interrupted by the crash" interrupted "$(json "$dir/body" 'd["state"]')"
cp "$dir/body" "$dir/second.json"
check "its segments are kept" 1 "$(( $(json "$dir/second.json" 'len(d["segments"])') >= 2 ))"
for path in $(json "$dir/second.json" '" ".join(s["path"] for s in d["segments"])'); do
  playable "$data/recordings/cam/$second/$path" && echo "ok   after the crash ffprobe plays $path" ||
    { echo "FAIL after the crash $path is unplayable"; failures=$((failures + 1)); }
done
check "the first recording survived" finished "$(api GET /api/v1/recordings/$first >/dev/null; json "$dir/body" 'd["state"]')"
check "a job of an interrupted recording" 202 "$(api POST /api/v1/jobs "{\"type\":\"vod\",\"recording\":$second}")"

stop_livepipe
finish
