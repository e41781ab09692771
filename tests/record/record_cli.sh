#!/usr/bin/env bash
# Crash safety and replay through the CLI, the way users run them:
# `livepipe record` killed with SIGKILL at seeded random moments leaves only
# playable segments whose duration matches the wall time within 1 s; clips
# (keyframe and accurate) and HLS (of an MP4 recording of H.264 and of a
# Matroska recording of VP8) are checked with ffprobe; path escapes are
# refused with a clear message.
set -euo pipefail
livepipe=$1
seed=${RECORD_TEST_SEED:-20261124}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
RANDOM=$seed
echo "seed $seed"

frames() {  # video frames ffprobe decodes in $1 (fails if it cannot open it)
  ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames \
    -of csv=p=0 "$1" | awk 'NF && !done {print; done=1}'
}
duration() {
  ffprobe -v error -show_entries format=duration -of csv=p=0 "$1"
}

for run in 1 2 3; do
  # Kill between 2.0 and 5.9 s after recording started.
  wait_ms=$((2000 + RANDOM % 4000))
  root=$tmp/kill$run
  "$livepipe" record --root "$root" --stream cam --segment-duration 2 test >"$tmp/log$run" 2>&1 &
  pid=$!
  for _ in $(seq 100); do grep -q '"started"' "$tmp/log$run" && break; sleep 0.05; done
  grep -q '"started"' "$tmp/log$run" || { cat "$tmp/log$run"; exit 1; }
  start=$(date +%s%N)
  sleep "$(awk "BEGIN{print $wait_ms/1000}")"
  kill -9 $pid
  end=$(date +%s%N)
  wait $pid 2>/dev/null || true
  wall=$(awk "BEGIN{print ($end-$start)/1e9}")
  total=0
  for f in "$root"/cam/seg-*.mp4; do
    # A segment cut right after it opened may hold only its first short
    # fragment, for which ffprobe reports no duration (N/A): it must still
    # open and decode cleanly; the total below bounds what was lost.
    d=$(duration "$f") || { echo "run $run: ffprobe cannot open $f"; exit 1; }
    [[ $d == N/A ]] && d=0
    ffmpeg -v error -i "$f" -f null - 2>"$tmp/dec" || { echo "run $run: $f does not decode:"; cat "$tmp/dec"; ls -la "$root/cam"; exit 1; }
    total=$(awk "BEGIN{print $total + $d}")
  done
  echo "run $run: killed after ${wall}s, recorded ${total}s"
  awk "BEGIN{d=$wall-$total; if (d<0) d=-d; exit !(d <= 1.0)}" ||
    { echo "run $run: recorded ${total}s for ${wall}s of wall time"; exit 1; }
  # The manifest left by the crash is valid and lists the segments.
  python3 -c "import json,sys; m=json.load(open('$root/cam/manifest.json')); assert m['state']=='recording' and m['segments'], m"
done

# A recording that finishes: clip and HLS.
root=$tmp/full
"$livepipe" record --root "$root" --stream cam --segment-duration 2 --duration 7 test >"$tmp/full.log"
python3 -c "import json; m=json.load(open('$root/cam/manifest.json')); assert m['state']=='finished' and len(m['segments'])>=3 and all(s['complete'] for s in m['segments']), m"
"$livepipe" replay clip "$root/cam" --start 2.3 --end 5.1 -o "$tmp/key.mp4" >"$tmp/clip.log"
# The test source has a keyframe every 0.5 s: the copy clip starts at 2.0 s.
grep -q '"start":2\.0\b\|"start":2,' "$tmp/clip.log" || grep -q '"start":2.0' "$tmp/clip.log" || { cat "$tmp/clip.log"; exit 1; }
n=$(frames "$tmp/key.mp4"); [[ $n -ge 91 && $n -le 95 ]] || { echo "keyframe clip: $n frames, want 93 (2.0..5.1 s)"; exit 1; }
"$livepipe" replay clip "$root/cam" --start 2.3 --end 5.1 --accurate -o "$tmp/acc.mp4" >"$tmp/acc.log"
n=$(frames "$tmp/acc.mp4"); [[ $n -ge 83 && $n -le 85 ]] || { echo "accurate clip: $n frames, want 84 (2.3..5.1 s)"; exit 1; }
"$livepipe" replay hls "$root/cam" -o "$tmp/hls" >"$tmp/hls.log"
head -1 "$tmp/hls/index.m3u8" | grep -q '#EXTM3U'
grep -q '#EXT-X-ENDLIST' "$tmp/hls/index.m3u8"
want=0
for f in "$root"/cam/seg-*.mp4; do want=$((want + $(frames "$f"))); done
got=$(frames "$tmp/hls/index.m3u8")
[[ $got == "$want" ]] || { echo "HLS: ffprobe counts $got frames, the recording has $want"; exit 1; }
# A VP8 recording (Matroska, as browsers' streams are recorded) as HLS: the
# video is transcoded once to H.264, cut every 2 s on the keyframes forced
# there; nothing but the playlist and its segments is left.
ffmpeg -nostdin -v error -f lavfi -i testsrc2=size=320x240:rate=30 -f lavfi -i sine=sample_rate=48000 \
  -t 5 -c:v libvpx -deadline realtime -cpu-used 8 -g 30 -c:a libopus "$tmp/vp8.webm"
"$livepipe" record --root "$tmp/vp8" --stream web --format mkv --segment-duration 2 "$tmp/vp8.webm" >"$tmp/vp8.log"
"$livepipe" replay hls "$tmp/vp8/web" -o "$tmp/vp8hls" --target-duration 2 >"$tmp/vp8hls.log"
media=$(grep -c '^#EXTINF' "$tmp/vp8hls/index.m3u8")
[[ $media -ge 3 ]] || { echo "VP8 HLS: $media media segments, want 3"; cat "$tmp/vp8hls/index.m3u8"; exit 1; }
[[ -z $(find "$tmp/vp8hls" -name '.transcoded*') ]] || { echo "VP8 HLS: the transcoded file is left"; exit 1; }
codec=$(ffprobe -v error -select_streams v:0 -show_entries stream=codec_name -of csv=p=0 "$tmp/vp8hls/index.m3u8" | awk 'NF && !done {print; done=1}')
got=$(frames "$tmp/vp8hls/index.m3u8")
[[ $codec == h264 && $got -ge 145 && $got -le 151 ]] || { echo "VP8 HLS: $codec, $got frames, want h264, 150"; exit 1; }
d=$(duration "$tmp/vp8hls/index.m3u8")
awk "BEGIN{d=$d-5; if (d<0) d=-d; exit !(d <= 1.0)}" || { echo "VP8 HLS lasts $d s, want 5"; exit 1; }
set +e
"$livepipe" replay clip "$root/cam" --start 50 --end 60 -o "$tmp/none.mp4" 2>"$tmp/err"; code=$?
set -e
[[ $code == 1 ]] && grep -q "empty range" "$tmp/err" || { echo "out-of-range clip: exit $code"; cat "$tmp/err"; exit 1; }

# A file with B-frames (its first decode times precede its start in the MP4
# edit list) is recorded whole: every video frame, the first GOP included.
ffmpeg -nostdin -v error -f lavfi -i testsrc2=size=320x240:rate=30 -f lavfi -i sine=sample_rate=48000 \
  -t 3 -c:v libx264 -preset veryfast -bf 2 -g 30 -pix_fmt yuv420p -c:a aac "$tmp/bframes.mp4"
"$livepipe" record --root "$tmp/bf" --stream bf "$tmp/bframes.mp4" >"$tmp/bf.log"
n=$(frames "$tmp/bf/bf/seg-00000.mp4")
[[ $n == 90 ]] || { echo "B-frame file: recorded $n of 90 video frames"; exit 1; }
python3 -c "import json; m=json.load(open('$tmp/bf/bf/manifest.json')); assert abs(m['duration_ns']-3e9) < 5e7, m"

# Path escapes are refused with a clear message and nothing is written outside.
check_refused() {  # expected-text args...
  local want=$1; shift
  set +e
  "$livepipe" record --root "$tmp/safe" --duration 1 "$@" test >"$tmp/out" 2>&1; local code=$?
  set -e
  [[ $code == 2 ]] || { echo "escape $*: exit $code, want 2"; cat "$tmp/out"; exit 1; }
  grep -q -- "$want" "$tmp/out" || { echo "escape $*: no '$want' in:"; cat "$tmp/out"; exit 1; }
}
check_refused "escape the root" --location '../outside/seg-%05d.mp4'
check_refused "is absolute" --location "$tmp/abs/seg-%05d.mp4"
check_refused "stream name" --stream '../../etc'
check_refused "stream name" --stream 'a/b'
check_refused "segment number directive" --location 'seg-%s.mp4'
mkdir -p "$tmp/safe" "$tmp/elsewhere"
ln -s "$tmp/elsewhere" "$tmp/safe/link"
check_refused "symbolic link" --location 'link/seg-%05d.mp4'
[[ -z $(ls -A "$tmp/elsewhere") ]] || { echo "a file was written through the symlink"; exit 1; }
[[ ! -e $tmp/outside && ! -e $tmp/abs ]] || { echo "a file was written outside the root"; exit 1; }
echo "record cli ok"
