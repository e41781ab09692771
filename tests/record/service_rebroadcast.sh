#!/usr/bin/env bash
# Rebroadcast jobs in `livepipe serve`: a recording made in the test (a WHIP
# publisher recorded by a config rule) played as a live stream in real time:
# a WHEP viewer decodes it, the job's progress grows while it plays, the job
# is done at the end of the recording and the stream ends with it (its viewer
# stops receiving); recording rules take the rebroadcast stream like any
# other. Cancel ends the stream; an unknown recording, a recording still in
# progress, a taken stream name and bad bodies are refused.
# Runs inside a network namespace whose only interface is lo (in_netns.sh).
#   service_rebroadcast.sh LIVEPIPE [h264|vp8]
livepipe=$1
codec=${2:-h264}
source "$(dirname "$0")/../support/fixture.sh"
fixture_kill_signal=KILL
secret=0123456789abcdef0123456789abcdef
port=$([[ $codec == vp8 ]] && echo 18197 || echo 18196)
base=http://127.0.0.1:$port
data=$dir/data
# cam is recorded from its start; so is the rebroadcast stream "again".
cat > "$dir/config.json" <<JSON
{"auth": {"secret": "$secret"},
 "media": {"iceAddresses": ["127.0.0.1"], "idleTimeoutSeconds": 4},
 "recording": {"dir": "$data", "streams": ["cam", "again"], "segmentSeconds": 2}}
JSON
token() { "$livepipe" token --secret "$secret" --role "$1" ${2:+--stream "$2"}; }
admin=$(token admin)
pub=$(token publish cam)
play=$(token play again)
api() {  # api METHOD PATH [BODY]: status code; the body in $dir/body
  curl -s -o "$dir/body" -w '%{http_code}' -X "$1" -H "Authorization: Bearer $admin" \
    ${3:+-H 'Content-Type: application/json' --data-binary "$3"} "$base$2"
}
job_state() { api GET /api/v1/jobs/$1 >/dev/null; json "$dir/body" 'd["state"]'; }
serve_livepipe "$dir/config.json" "$port"

# The recording: a WHIP publisher, stopped once four 2 s segments are on disk.
"$livepipe" whip-publish "$base/whip/cam" --token "$pub" --ice-address 127.0.0.1 --size 320x240 \
  --codec "$codec" --duration 90 >"$dir/pub.log" 2>&1 &
publisher=$!
pids+=($publisher)
recording_runs() { [[ $(api GET /api/v1/streams/cam/recording) == 200 ]]; }
wait_for 20 recording_runs
check "the config rule records cam" 200 "$(api GET /api/v1/streams/cam/recording)"
id=$(sed -n 's/^{"id":\([0-9]*\),.*/\1/p' "$dir/body")
check "a recording still in progress is refused" 409 \
  "$(api POST /api/v1/jobs "{\"type\":\"rebroadcast\",\"recording\":$id,\"stream\":\"again\"}")"
check "the refusal says why" 1 "$(grep -c 'still being recorded' "$dir/body")"
four_segments() {
  curl -s -H "Authorization: Bearer $admin" "$base/api/v1/recordings/$id" |
    grep -qE '"segmentCount":([4-9]|[1-9][0-9])'
}
wait_for 60 four_segments
kill -INT "$publisher"
wait "$publisher"
finished() { api GET /api/v1/recordings/$id >/dev/null; [[ $(json "$dir/body" 'd["state"]') == finished ]]; }
wait_for 20 finished
check "the recording is finished" finished "$(json "$dir/body" 'd["state"]')"
duration=$(json "$dir/body" 'd["duration"]')
check "the recording holds at least 6 s ($duration s)" True "$(json "$dir/body" 'd["duration"] >= 6')"

check "unknown recording" 404 \
  "$(api POST /api/v1/jobs '{"type":"rebroadcast","recording":999,"stream":"again"}')"
check "no stream name" 400 "$(api POST /api/v1/jobs "{\"type\":\"rebroadcast\",\"recording\":$id}")"
check "bad stream name" 400 \
  "$(api POST /api/v1/jobs "{\"type\":\"rebroadcast\",\"recording\":$id,\"stream\":\"../x\"}")"
check "accurate is for clips" 400 \
  "$(api POST /api/v1/jobs "{\"type\":\"rebroadcast\",\"recording\":$id,\"stream\":\"a\",\"accurate\":true}")"

# The rebroadcast, watched from its start.
started=$(date +%s.%N)
code=$(api POST /api/v1/jobs "{\"type\":\"rebroadcast\",\"recording\":$id,\"stream\":\"again\"}")
cp "$dir/body" "$dir/job.json"
taken=$(api POST /api/v1/jobs "{\"type\":\"rebroadcast\",\"recording\":$id,\"stream\":\"again\"}")
"$livepipe" whep-play "$base/whep/again" --token "$play" --ice-address 127.0.0.1 --duration 60 \
  --stall 3 >"$dir/view.log" 2>&1 &
viewer=$!
pids+=($viewer)
job=$(sed -n 's/^{"id":\([0-9]*\),.*/\1/p' "$dir/job.json")
listed=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $admin" \
  "$base/api/v1/streams/again")
# Progress grows while it plays: sampled with curl alone (cheap on a loaded
# machine) every 0.3 s, bounded.
samples=()
for _ in $(seq 1 100); do
  body=$(curl -s -H "Authorization: Bearer $admin" "$base/api/v1/jobs/$job")
  [[ $body == *'"state":"running"'* ]] || break
  samples+=("$(sed -n 's/.*"progress":\([0-9.e+-]*\).*/\1/p' <<<"$body")")
  sleep 0.3
done
ended=$(date +%s.%N)
check "rebroadcast accepted" 202 "$code"
check "the stream name is now taken" 409 "$taken"
check "the stream is listed" 200 "$listed"
check "the job runs at once, to stream again" "running again /whep/again" \
  "$(json "$dir/job.json" 'd["state"] + " " + d["target"] + " " + d["whep"]')"
api GET /api/v1/jobs/$job >/dev/null
check "the job is done at the end of the recording" "done 1.0" \
  "$(json "$dir/body" 'd["state"] + " " + str(d["progress"])')"
check "its result counts the frames played" True \
  "$(json "$dir/body" 'd["result"]["videoFrames"] > 100 and d["result"]["audioFrames"] > 100')"
check "progress grew while it played (${samples[*]})" True "$(python3 -c "
import sys; s=[float(x) for x in sys.argv[1:]]
print(len(s) >= 3 and s == sorted(s) and any(0 < x < 1 for x in s) and s[-1] > s[0])" "${samples[@]}")"
check "it played in real time (${duration} s recorded)" True "$(python3 -c "
print($ended - $started >= 0.8 * $duration - 1.5)")"
gone() { [[ $(api GET /api/v1/streams/again) == 404 ]]; }
wait_for 10 gone
check "the stream has ended" 404 "$(api GET /api/v1/streams/again)"
# The viewer stops receiving once the stream has ended (--stall 3).
for _ in $(seq 1 100); do kill -0 "$viewer" 2>/dev/null || break; sleep 0.1; done
check "the viewer's session ended with the stream" 1 "$(kill -0 "$viewer" 2>/dev/null; echo $?)"
wait "$viewer"
frames=$(sed -n 's/^frames decoded: //p' "$dir/view.log")
check "the WHEP viewer decoded the rebroadcast (${frames:-0} frames)" 1 \
  "$([[ ${frames:-0} -ge 60 ]] && echo 1 || echo 0)"
check "the viewer saw 320x240" 1 "$(grep -c 'first frame after .*: 320x240' "$dir/view.log")"

# The rebroadcast stream was recorded by the rule on "again" (the stream's
# hooks fired as for a published stream).
api GET "/api/v1/recordings?stream=again" >/dev/null
check "recording rules take the rebroadcast stream" True \
  "$(json "$dir/body" 'len(d["recordings"]) == 1 and d["recordings"][0]["duration"] >= 4')"

# Cancel: DELETE ends the stream; the job is cancelled.
check "second rebroadcast" 202 \
  "$(api POST /api/v1/jobs "{\"type\":\"rebroadcast\",\"recording\":$id,\"stream\":\"again2\"}")"
job2=$(json "$dir/body" 'd["id"]')
playing() { curl -s -H "Authorization: Bearer $admin" "$base/api/v1/jobs/$job2" | grep -q '"progress":0\.'; }
wait_for 10 playing
check "cancel" 202 "$(api DELETE /api/v1/jobs/$job2)"
cancelled() { [[ $(job_state "$job2") == cancelled ]]; }
wait_for 10 cancelled
check "the job is cancelled" cancelled "$(job_state "$job2")"
check "its stream has ended" 404 "$(api GET /api/v1/streams/again2)"
check "a finished rebroadcast has no files" 404 "$(api GET /api/v1/jobs/$job/output)"
check "DELETE removes a finished job" 204 "$(api DELETE /api/v1/jobs/$job2)"

# A later start: from the first keyframe at or after 2 s.
check "third rebroadcast, from 2 s" 202 \
  "$(api POST /api/v1/jobs "{\"type\":\"rebroadcast\",\"recording\":$id,\"stream\":\"again3\",\"start\":2}")"
job3=$(json "$dir/body" 'd["id"]')
check "it starts at 2 s" 2.0 "$(json "$dir/body" 'd["start"]')"
done3() { [[ $(job_state "$job3") == done ]]; }
wait_for 20 done3
check "it plays the rest of the recording" True \
  "$(json "$dir/body" "0.3 < d['result']['duration'] <= $duration - 1.9")"

stop_livepipe
finish "$dir/view.log"
