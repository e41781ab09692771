#!/usr/bin/env bash
# Builds the trickle ICE fragment parser alone with clang and libFuzzer (+ASan,
# UBSan) and fuzzes it for a bounded time from a seed corpus of valid and
# broken fragments.
#   run.sh SOURCE_DIR WORK_DIR SECONDS
set -euo pipefail
src=$1
work=$2
seconds=${3:-15}
mkdir -p "$work/corpus"
bin=$work/fuzz_sdpfrag
sources=("$src/tests/media/fuzz/fuzz_sdpfrag.cpp" "$src/signaling/media/sdpfrag.cpp")
if [[ ! -x $bin ]] || [[ -n $(find "${sources[@]}" "$src/signaling/media/sdpfrag.h" -newer "$bin") ]]; then
  clang++ -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -I"$src/signaling/media" "${sources[@]}" -o "$bin"
fi
seed() { printf '%b' "$2" >"$work/corpus/seed-$1"; }
seed full 'a=ice-ufrag:EsAw\r\na=ice-pwd:P2uYro0UCOQ4zxjKXaWCBui1\r\nm=audio 9 RTP/AVP 0\r\na=mid:0\r\na=candidate:1 1 UDP 2130706431 198.51.100.1 39132 typ host\r\na=end-of-candidates\r\n'
seed restart 'a=ice-ufrag:ABCD\na=ice-pwd:abcdefghijklmnopqrstuvwx\n'
seed two 'm=audio 9 RTP/AVP 0\na=mid:0\na=candidate:1 1 udp 1 127.0.0.1 9 typ srflx raddr 0.0.0.0 rport 0\nm=video 9 RTP/AVP 96\na=mid:1\na=end-of-candidates\n'
seed session_end 'm=audio 9 RTP/AVP 0\na=end-of-candidates\n'
seed broken 'm=audio 9 RTP/AVP 0\na=candidate:1 0 UDP 1 127.0.0.1 99999 typ weird\n'
seed noise 'a=ice-ufrag:ab\nx=\tq\r\na=candidate:\n'
"$bin" -max_total_time="$seconds" -error_exitcode=1 -timeout_exitcode=1 -max_len=4096 -timeout=5 \
  -print_final_stats=1 "$work/corpus" 2>&1 | tail -n 15
