#!/usr/bin/env bash
# Builds one RTMP parser alone with clang and libFuzzer (+ASan, UBSan) and
# fuzzes it for a bounded time from a seed corpus: the RTMP destination URL
# check (rtmp_url, the default) or the latency benchmark's frame stamp reader
# (frame_stamp).
#   run.sh SOURCE_DIR WORK_DIR SECONDS [rtmp_url|frame_stamp]
set -euo pipefail
src=$1
work=$2
seconds=${3:-15}
target=${4:-rtmp_url}
case $target in
  rtmp_url) dir=$src/signaling/rtmp; sources=("$dir/url.cpp"); headers=("$dir/url.h") ;;
  frame_stamp)
    dir=$src/bench/rtmp; sources=("$dir/frame_stamp.cpp"); headers=("$dir/frame_stamp.h") ;;
  *) echo "run.sh: unknown target $target" >&2; exit 2 ;;
esac
sources+=("$src/tests/rtmp/fuzz/fuzz_$target.cpp")
work=$work/$target
mkdir -p "$work/corpus"
bin=$work/fuzz_$target
if [[ ! -x $bin ]] || [[ -n $(find "${sources[@]}" "${headers[@]}" -newer "$bin") ]]; then
  # shellcheck disable=SC2046
  clang++ -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -I"$dir" "${sources[@]}" $(pkg-config --cflags --libs glib-2.0) -o "$bin"
fi
seed() { printf '%b' "$2" >"$work/corpus/seed-$1"; }
if [[ $target == frame_stamp ]]; then
  # Geometry, mode (odd: stamped), a value, then noise added to the picture.
  seed stamped '\x40\x30\x00\x01\x12\x34\x56\x78\x9a'
  seed noisy '\x40\x30\x04\x01\xff\x00\xff\x00\x11\x00\x03\xfd\x00\x02'
  seed small '\x00\x00\x00\x01\x01\x02\x03\x04\x05'
  seed picture '\x50\x20\x08\x00\x00\x00\x00\x00\x00\x10\xeb\x10\xeb\x80'
else
  seed plain 'rtmp://127.0.0.1:1935/live/cam'
  seed tls 'rtmps://a.rtmp.youtube.com/live2/abcd-efgh?x=1'
  seed v6 'rtmp://[::1]:1935/app/key'
  seed userinfo 'rtmp://user:pass@host/app/stream'
  seed short 'rtmp://host/app'
  seed junk 'rtmp:/\x00/%zz/..'
fi
ASAN_OPTIONS=detect_leaks=0 "$bin" -max_total_time="$seconds" -error_exitcode=1 -timeout_exitcode=1 -max_len=4096 -timeout=5 \
  -print_final_stats=1 "$work/corpus" 2>&1 | tail -n 15
