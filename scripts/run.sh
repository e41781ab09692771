#!/usr/bin/env bash
# Installs what is missing, builds livepipe and runs its main job. Arguments,
# when given, are passed to the `livepipe` command instead.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
bash scripts/setup.sh
cmake -S . -B build -G Ninja >/dev/null
cmake --build build -j "$(nproc)" --target livepipe gstlivepipe
if (($#)); then
  exec build/apps/livepipe "$@"
fi
out="$root/livepipe-demo.mp4"
echo "livepipe: rendering 10 s of a test pattern through lpbeauty to $out"
build/apps/livepipe launch -e videotestsrc num-buffers=300 pattern=smpte \
  ! video/x-raw,width=1280,height=720,framerate=30/1 \
  ! lpbeauty smoothing=0.8 whitening=0.3 skin-only=false n-threads=0 \
  ! x264enc tune=zerolatency ! mp4mux ! filesink location="$out"
echo "livepipe: wrote $out ($(du -h "$out" | cut -f1)); play it with: ffplay $out"
