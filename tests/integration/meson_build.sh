#!/usr/bin/env bash
# The meson build under meson-compat/ configures, builds the same plugin, and
# GStreamer loads that plugin.
set -euo pipefail
src=$1
out=$2
rm -rf "$out"
meson setup "$out" "$src/meson-compat" >"$out.log" 2>&1 || { cat "$out.log"; exit 1; }
ninja -C "$out" >>"$out.log" 2>&1 || { cat "$out.log"; exit 1; }
test -f "$out/libgstlivepipe.so"
inspect=$(GST_PLUGIN_PATH="$out" GST_REGISTRY_1_0="$out/registry.bin" gst-inspect-1.0 lpbeauty)
grep -q "$out/libgstlivepipe.so" <<<"$inspect" || { echo "lpbeauty not loaded from the meson build"; exit 1; }
GST_PLUGIN_PATH="$out" GST_REGISTRY_1_0="$out/registry.bin" \
  gst-launch-1.0 -q videotestsrc num-buffers=10 ! lpbeauty ! lpmoderator ! fakesink
echo "meson build ok"
