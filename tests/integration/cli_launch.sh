#!/usr/bin/env bash
# `livepipe launch` runs gst-launch syntax through lpbeauty to a file that
# ffprobe can read, and maps failures to exit codes 1 and 2.
set -euo pipefail
livepipe=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$livepipe" launch -q videotestsrc num-buffers=60 ! video/x-raw,width=320,height=240 \
  ! lpbeauty smoothing=0.8 whitening=0.3 ! x264enc ! mp4mux ! filesink location="$tmp/out.mp4"
frames=$(ffprobe -v error -count_frames -select_streams v:0 \
  -show_entries stream=nb_read_frames -of csv=p=0 "$tmp/out.mp4")
[[ $frames == 60 ]] || { echo "expected 60 frames, ffprobe counted '$frames'"; exit 1; }

set +e
"$livepipe" launch -q nosuchelement ! fakesink 2>"$tmp/err"; code=$?
set -e
[[ $code == 2 ]] || { echo "invalid pipeline: exit $code, want 2"; exit 1; }
grep -q "nosuchelement" "$tmp/err"

set +e
"$livepipe" launch -q filesrc location="$tmp/missing" ! fakesink 2>"$tmp/err"; code=$?
set -e
[[ $code == 1 ]] || { echo "runtime error: exit $code, want 1"; exit 1; }
grep -q "ERROR from" "$tmp/err"
echo "cli ok"
