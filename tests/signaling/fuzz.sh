#!/usr/bin/env bash
# Builds the signaling parsers' libFuzzer target with clang in its own build
# directory and runs it for a bounded time from the seed corpus.
#   fuzz.sh SOURCE_DIR BUILD_DIR SECONDS
set -euo pipefail
src=$1 build=$2 seconds=$3
if ! command -v clang++ >/dev/null; then
  echo "skipped: clang++ is not installed"
  exit 77
fi
cmake -S "$src" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DLIVEPIPE_FUZZ=ON \
  -DLIVEPIPE_BENCH=OFF >/dev/null
cmake --build "$build" --target fuzz_signaling >/dev/null
corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
cp "$src"/tests/signaling/fuzz_corpus/* "$corpus"/
# New inputs go to a scratch copy; the seeds in the tree stay as they are.
"$build"/tests/signaling/fuzz_signaling -max_total_time="$seconds" -error_exitcode=1 -timeout_exitcode=1 -timeout=5 \
  -rss_limit_mb=2048 -max_len=8192 -print_final_stats=1 "$corpus" 2>&1 | tail -n 12
