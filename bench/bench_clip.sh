#!/usr/bin/env bash
# Clip extraction speed as a multiple of real time: `livepipe replay clip`
# (keyframe cut, no re-encoding) against `ffmpeg -ss -to -c copy` on the same
# recording, both timed as whole processes, best of RUNS. BASELINE, another
# livepipe binary (an earlier build), is timed on the same recording in the
# same run, alternating with LIVEPIPE, so a busy machine slows both alike.
#   bench/bench_clip.sh [LIVEPIPE] [SECONDS] [RUNS] [BASELINE]
set -euo pipefail
livepipe=${1:-build/apps/livepipe}
seconds=${2:-120}
runs=${3:-5}
baseline=${4:-}
export GST_PLUGIN_PATH=${GST_PLUGIN_PATH:-$(dirname "$livepipe")/../elements}
dir=$(mktemp -d /dev/shm/livepipe-bench-clip-XXXXXX)
trap 'rm -rf "$dir"' EXIT
ffmpeg -nostdin -v error -f lavfi -i testsrc2=size=1280x720:rate=30 \
  -f lavfi -i sine=frequency=440:sample_rate=48000 -t "$seconds" -c:v libx264 -preset veryfast \
  -b:v 1900k -maxrate 2000k -bufsize 2000k -g 30 -pix_fmt yuv420p -c:a aac -b:a 128k \
  "$dir/input.mp4"
# One segment, so ffmpeg can cut the very file our clip reads.
"$livepipe" record --root "$dir/rec" --stream cam --segment-duration 100000 "$dir/input.mp4" \
  >/dev/null
segment=$(ls "$dir"/rec/cam/seg-*.mp4)
start=$((seconds / 4)) end=$((seconds / 4 + seconds / 2))
clip=$((end - start))
best() {  # command... ; prints the best wall time of $runs runs in seconds
  local best=999999 t0 t1 t
  for ((i = 0; i < runs; i++)); do
    t0=$(date +%s.%N); "$@" >/dev/null 2>&1; t1=$(date +%s.%N)
    t=$(awk "BEGIN{print $t1-$t0}")
    best=$(awk "BEGIN{print ($t<$best)?$t:$best}")
  done
  echo "$best"
}
clip_with() {  # livepipe binary, output
  "$1" replay clip "$dir/rec/cam" --start "$start" --end "$end" -o "$2"
}
if [[ -n $baseline ]]; then
  # Alternate: one run of each per round, best of each.
  ours=999999 base=999999
  for ((round = 0; round < runs; round++)); do
    t=$(runs=1 best clip_with "$livepipe" "$dir/ours.mp4")
    ours=$(awk "BEGIN{print ($t<$ours)?$t:$ours}")
    t=$(runs=1 best clip_with "$baseline" "$dir/base.mp4")
    base=$(awk "BEGIN{print ($t<$base)?$t:$base}")
  done
else
  ours=$(best clip_with "$livepipe" "$dir/ours.mp4")
fi
theirs=$(best ffmpeg -nostdin -v error -y -ss "$start" -to "$end" -i "$segment" -c copy \
  "$dir/ffmpeg.mp4")
frames() {
  ffprobe -v error -count_packets -select_streams v:0 -show_entries stream=nb_read_packets \
    -of csv=p=0 "$1"
}
echo "recording: ${seconds} s of 720p30 H.264 ~2 Mb/s + AAC; clip ${start}..${end} s (${clip} s)"
printf '%-34s %8s %8s %12s\n' contestant seconds frames "x real time"
printf '%-34s %8.3f %8s %12.0f\n' "livepipe replay clip" "$ours" "$(frames "$dir/ours.mp4")" \
  "$(awk "BEGIN{print $clip/$ours}")"
if [[ -n $baseline ]]; then
  printf '%-34s %8.3f %8s %12.0f\n' "livepipe replay clip (BASELINE)" "$base" \
    "$(frames "$dir/base.mp4")" "$(awk "BEGIN{print $clip/$base}")"
fi
printf '%-34s %8.3f %8s %12.0f\n' "ffmpeg -ss -to -c copy" "$theirs" "$(frames "$dir/ffmpeg.mp4")" \
  "$(awk "BEGIN{print $clip/$theirs}")"
awk "BEGIN{printf \"ratio livepipe/ffmpeg (speed): %.2f\n\", $theirs/$ours}"
if [[ -n $baseline ]]; then
  awk "BEGIN{printf \"ratio livepipe/BASELINE (speed): %.2f\n\", $base/$ours}"
fi
