#!/usr/bin/env bash
# Builds the RTMP URL check alone with clang and libFuzzer (+ASan, UBSan) and
# fuzzes it for a bounded time from a seed corpus.
#   run.sh SOURCE_DIR WORK_DIR SECONDS
set -euo pipefail
src=$1
work=$2
seconds=${3:-15}
mkdir -p "$work/corpus"
bin=$work/fuzz_rtmp_url
sources=("$src/tests/rtmp/fuzz/fuzz_rtmp_url.cpp" "$src/signaling/rtmp/url.cpp")
if [[ ! -x $bin ]] || [[ -n $(find "${sources[@]}" "$src/signaling/rtmp/url.h" -newer "$bin") ]]; then
  # shellcheck disable=SC2046
  clang++ -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -I"$src/signaling/rtmp" "${sources[@]}" $(pkg-config --cflags --libs glib-2.0) -o "$bin"
fi
seed() { printf '%b' "$2" >"$work/corpus/seed-$1"; }
seed plain 'rtmp://127.0.0.1:1935/live/cam'
seed tls 'rtmps://a.rtmp.youtube.com/live2/abcd-efgh?x=1'
seed v6 'rtmp://[::1]:1935/app/key'
seed userinfo 'rtmp://user:pass@host/app/stream'
seed short 'rtmp://host/app'
seed junk 'rtmp:/\x00/%zz/..'
ASAN_OPTIONS=detect_leaks=0 "$bin" -max_total_time="$seconds" -max_len=4096 -timeout=5 \
  -print_final_stats=1 "$work/corpus" 2>&1 | tail -n 15
