#!/usr/bin/env bash
# Builds the STUN and RTCP parsers alone with clang and libFuzzer (+ASan,
# UBSan) and fuzzes them for a bounded time from a seed corpus.
#   run.sh SOURCE_DIR WORK_DIR SECONDS
set -euo pipefail
src=$1
work=$2
seconds=${3:-15}
mkdir -p "$work/corpus"
bin=$work/fuzz_fanout
sources=("$src/tests/fanout/fuzz/fuzz_fanout.cpp" "$src/signaling/fanout/stun.cpp"
         "$src/signaling/fanout/rtcp.cpp")
if [[ ! -x $bin ]] || [[ -n $(find "${sources[@]}" "$src/signaling/fanout/stun.h" \
                                 "$src/signaling/fanout/rtcp.h" -newer "$bin") ]]; then
  # shellcheck disable=SC2046
  clang++ -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -I"$src/signaling/fanout" $(pkg-config --cflags glib-2.0) "${sources[@]}" \
    $(pkg-config --libs glib-2.0) -o "$bin"
fi
seed() { printf '%b' "$2" >"$work/corpus/seed-$1"; }
# A Binding request with USERNAME, PRIORITY, ICE-CONTROLLING, USE-CANDIDATE,
# MESSAGE-INTEGRITY and FINGERPRINT (the values need not verify).
seed binding '\x00\x01\x00\x3c\x21\x12\xa4\x42abcdefghijkl\x00\x06\x00\x09srv1:cli1\x00\x00\x00\x00\x24\x00\x04n\xff\x00\xff\x80\x2a\x00\x08\x01\x02\x03\x04\x05\x06\x07\x08\x00\x25\x00\x00\x00\x08\x00\x14AAAAAAAAAAAAAAAAAAAA\x80\x28\x00\x04\x00\x00\x00\x00'
seed short_stun '\x01\x01\x00\x00\x21\x12\xa4\x42abcdefghijkl'
seed rr_pli '\x81\xc9\x00\x07\x00\x00\x00\x01\x11\x22\x33\x44\x19\xff\xff\xfe\x00\x01\x11\x70\x00\x00\x00\x09\x00\x00\x00\x00\x00\x00\x00\x00\x81\xce\x00\x02\x00\x00\x00\x01\x11\x22\x33\x44'
seed nack '\x81\xcd\x00\x03\x00\x00\x00\x01\x11\x22\x33\x44\x00\x64\x80\x01'
seed fir '\x84\xce\x00\x04\x00\x00\x00\x01\x00\x00\x00\x00\x55\x66\x77\x88\x01\x00\x00\x00'
"$bin" -max_total_time="$seconds" -error_exitcode=1 -timeout_exitcode=1 -max_len=2048 -timeout=5 \
  -print_final_stats=1 "$work/corpus" 2>&1 | tail -n 15
