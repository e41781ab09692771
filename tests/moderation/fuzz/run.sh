#!/usr/bin/env bash
# Builds the verdict parser alone with clang and libFuzzer (+ASan, UBSan) and
# fuzzes it for a bounded time from a seed corpus of valid and broken replies.
#   run.sh SOURCE_DIR WORK_DIR SECONDS
set -euo pipefail
src=$1
work=$2
seconds=${3:-15}
mkdir -p "$work/corpus"
bin=$work/fuzz_verdict
sources=("$src/tests/moderation/fuzz/fuzz_verdict.cpp" "$src/elements/moderation/verdict.cpp"
         "$src/elements/util/json.cpp")
if [[ ! -x $bin ]] || [[ -n $(find "${sources[@]}" "$src/elements/moderation/verdict.h" \
                                 "$src/elements/util/json.h" -newer "$bin") ]]; then
  # shellcheck disable=SC2046
  clang++ -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -I"$src/elements" -I"$src/elements/moderation" "${sources[@]}" \
    $(pkg-config --cflags --libs json-glib-1.0 gstreamer-1.0) -o "$bin"
fi
seed() { printf '%s' "$2" >"$work/corpus/seed-$1"; }
seed allow '{"verdict":"allow"}'
seed block '{"verdict":"block","reason":"nudity","expires_ms":5000}'
seed blur '{"verdict":"blur","regions":[{"x":1,"y":2,"w":3,"h":4}],"reason":"face"}'
seed end '{"verdict":"end","reason":"terms","extra":[1,{"a":null}]}'
seed broken '{"verdict":"blur","regions":[{"x":1.5,"y":-2,"w":"3"}'
seed deep '[[[[[[[[[[[[[[[[[[[[{"verdict":"allow"}]]]]]]]]]]]]]]]]]]]'
"$bin" -max_total_time="$seconds" -error_exitcode=1 -timeout_exitcode=1 -max_len=4096 -timeout=5 \
  -print_final_stats=1 "$work/corpus" 2>&1 | tail -n 15
