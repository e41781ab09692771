#!/usr/bin/env bash
# A VP8 WHIP publisher (what browsers send) recorded by `livepipe serve`: the
# recording is Matroska whatever recording.format says (MP4 cannot hold VP8),
# finishes on stop, its segments decode as VP8; clip jobs of it are MP4 with
# H.264; VOD jobs are HLS of H.264, transcoded once.
# Runs inside a network namespace whose only interface is lo (in_netns.sh).
#   service_recording_vp8.sh LIVEPIPE
livepipe=$1
source "$(dirname "$0")/../support/fixture.sh"
fixture_kill_signal=KILL
secret=0123456789abcdef0123456789abcdef
port=18193
base=http://127.0.0.1:$port
data=$dir/data
cat > "$dir/config.json" <<JSON
{"auth": {"secret": "$secret"},
 "media": {"iceAddresses": ["127.0.0.1"], "idleTimeoutSeconds": 4},
 "recording": {"dir": "$data", "streams": ["web"], "segmentSeconds": 2, "format": "mp4"}}
JSON
token() { "$livepipe" token --secret "$secret" --role "$1" ${2:+--stream "$2"}; }
admin=$(token admin)
pub=$(token publish web)
api() {  # api METHOD PATH [BODY]: status code; the body in $dir/body
  curl -s -o "$dir/body" -w '%{http_code}' -X "$1" -H "Authorization: Bearer $admin" \
    ${3:+-H 'Content-Type: application/json' --data-binary "$3"} "$base$2"
}
frames() {  # frames FILE: "CODEC FRAMES" of the first video stream, decoded
  ffprobe -v error -count_frames -select_streams v:0 \
    -show_entries stream=codec_name,nb_read_frames -of csv=p=0 "$1" | tr ',' ' '
}
serve_livepipe "$dir/config.json" "$port"

"$livepipe" whip-publish "$base/whip/web" --token "$pub" --ice-address 127.0.0.1 --size 320x240 \
  --codec vp8 --duration 120 >"$dir/pub.log" 2>&1 &
publisher=$!
pids+=($publisher)
wait_for 20 grep -q '^session ' "$dir/pub.log"
recording_runs() { [[ $(api GET /api/v1/streams/web/recording) == 200 ]]; }
wait_for 10 recording_runs
check "the config rule records the VP8 stream" 200 "$(api GET /api/v1/streams/web/recording)"
id=$(json "$dir/body" 'd["id"]')
two_segments() { api GET /api/v1/recordings/$id >/dev/null; (( $(json "$dir/body" 'd["segmentCount"]') >= 2 )); }
wait_for 20 two_segments
check "segments reach the catalog" 0 $?
check "stop" 202 "$(api DELETE /api/v1/streams/web/recording)"
finished() { api GET /api/v1/recordings/$id >/dev/null; [[ $(json "$dir/body" 'd["state"]') == finished ]]; }
wait_for 15 finished
check "stopped recording is finished" finished "$(json "$dir/body" 'd["state"] + d.get("error", "")')"
cp "$dir/body" "$dir/rec.json"
check "all segments complete" True "$(json "$dir/rec.json" 'all(s["complete"] for s in d["segments"])')"
check "Matroska segments" True "$(json "$dir/rec.json" 'len(d["segments"]) >= 2 and all(s["path"].endswith(".mkv") for s in d["segments"])')"
check "the manifest says mkv" mkv "$(json "$data/recordings/web/$id/manifest.json" 'd["format"]')"
# The first and the last segment (cut by the stop) may be short: each
# decodes, and together they hold the seconds recorded.
total=0
for path in $(json "$dir/rec.json" '" ".join(s["path"] for s in d["segments"])'); do
  read -r codec n < <(frames "$data/recordings/web/$id/$path")
  check "ffprobe decodes VP8 from $path ($n frames)" "vp8 1" "$codec $([[ ${n:-0} -ge 1 ]] && echo 1 || echo 0)"
  total=$((total + ${n:-0}))
done
check "the segments hold at least 4 s of video ($total frames)" 1 "$([[ $total -ge 60 ]] && echo 1 || echo 0)"

# A keyframe cut of VP8 goes to MP4 re-encoded as H.264, three times (a
# failure depended on how each segment's audio and video began).
job_state() { api GET /api/v1/jobs/$1 >/dev/null; [[ $(json "$dir/body" 'd["state"]') == "$2" ]]; }
for run in 1 2 3; do
  check "clip job $run" 202 "$(api POST /api/v1/jobs "{\"type\":\"clip\",\"recording\":$id,\"start\":0.5,\"end\":3.5}")"
  clip=$(json "$dir/body" 'd["id"]')
  clip_ended() { job_state "$clip" done || job_state "$clip" failed; }
  wait_for 60 clip_ended
  check "clip job $run done" done "$(json "$dir/body" 'd["state"] + d.get("error", "")')"
  check "clip $run download" 200 "$(curl -s -o "$dir/clip.mp4" -w '%{http_code}' -H "Authorization: Bearer $admin" "$base/api/v1/jobs/$clip/output")"
  read -r codec n < <(frames "$dir/clip.mp4")
  check "ffprobe decodes clip $run as H.264 ($n frames)" "h264 1" "$codec $([[ ${n:-0} -ge 30 ]] && echo 1 || echo 0)"
done

# HLS is fMP4 of H.264: a VP8 recording's VOD job transcodes it once and
# cuts it into segments of about the target duration, which ffprobe opens
# from the playlist and decodes as H.264 for as long as the recording lasts.
check "vod job" 202 "$(api POST /api/v1/jobs "{\"type\":\"vod\",\"recording\":$id}")"
vod=$(json "$dir/body" 'd["id"]')
vod_ended() { job_state "$vod" done || job_state "$vod" failed; }
wait_for 120 vod_ended
check "vod job done" done "$(json "$dir/body" 'd["state"] + d.get("error", "")')"
check "a finished VOD's progress" 1.0 "$(json "$dir/body" 'd["progress"]')"
vod_dir=$(json "$dir/body" 'd["output"]["path"]')
check "playlist download" 200 "$(curl -s -o "$dir/index.m3u8" -w '%{http_code}' -H "Authorization: Bearer $admin" "$base/api/v1/jobs/$vod/files/index.m3u8")"
head -1 "$dir/index.m3u8" | grep -q '#EXTM3U' && echo "ok   playlist" || { echo "FAIL playlist"; failures=$((failures + 1)); }
media=$(grep -c '^#EXTINF' "$dir/index.m3u8")
longest=$(sed -n 's/^#EXTINF:\([0-9.]*\),$/\1/p' "$dir/index.m3u8" | sort -n | tail -1)
check "several media segments ($media, the longest $longest s)" True "$(python3 -c "print($media >= 2 and $longest <= 6.5)")"
check "no transcoded file left" 0 "$(find "$vod_dir" -name '.transcoded*' | wc -l)"
recorded=$(json "$dir/rec.json" 'd["duration"]')
read -r codec n < <(frames "$vod_dir/index.m3u8")
d=$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$vod_dir/index.m3u8")
check "ffprobe decodes the VOD as H.264 ($n frames)" "h264 1" "$codec $([[ ${n:-0} -ge 60 ]] && echo 1 || echo 0)"
check "the VOD lasts as long as the recording ($d s, recorded $recorded s)" True "$(python3 -c "print(abs($d - $recorded) <= 1)")"

stop_livepipe
finish
