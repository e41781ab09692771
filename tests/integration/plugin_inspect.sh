#!/usr/bin/env bash
# The plugin is a real GStreamer plugin: gst-inspect-1.0 documents lpbeauty and
# lprecordbin and gst-launch-1.0 runs lpbeauty, with nothing but GST_PLUGIN_PATH set.
set -euo pipefail
: "${GST_PLUGIN_PATH:?GST_PLUGIN_PATH must point at build/elements}"
test -f "$GST_PLUGIN_PATH/libgstlivepipe.so"
# In a sanitizer build the plugin needs the ASan runtime loaded first.
gst-inspect-1.0() { LD_PRELOAD=${LIVEPIPE_ASAN_RUNTIME:-} command gst-inspect-1.0 "$@"; }
gst-launch-1.0() { LD_PRELOAD=${LIVEPIPE_ASAN_RUNTIME:-} command gst-launch-1.0 "$@"; }
out=$(gst-inspect-1.0 lpbeauty)
for want in "Filter/Effect/Video" smoothing whitening skin-only radius n-threads \
            "controllable" "I420" "NV12"; do
  grep -q -- "$want" <<<"$out" || { echo "gst-inspect-1.0 lpbeauty lacks '$want'"; exit 1; }
done
plugin=$(gst-inspect-1.0 livepipe)
grep -q lpbeauty <<<"$plugin"
# lprecordbin: its request pads and the properties that place a recording.
grep -q lprecordbin <<<"$plugin" || { echo "the livepipe plugin does not list lprecordbin"; exit 1; }
out=$(gst-inspect-1.0 lprecordbin)
for want in "SINK template: 'video'" "SINK template: 'audio_%u'" "On request" "video/x-h264" \
            "audio/mpeg" "location" "root" "Segment path template" "stays below"; do
  grep -q -- "$want" <<<"$out" || { echo "gst-inspect-1.0 lprecordbin lacks '$want'"; exit 1; }
done
gst-launch-1.0 -q videotestsrc num-buffers=100 ! lpbeauty ! fakesink
gst-launch-1.0 -q videotestsrc num-buffers=30 ! video/x-raw,format=NV12,width=641,height=361 \
  ! lpbeauty smoothing=1 whitening=1 n-threads=0 ! fakesink
echo "plugin ok"
