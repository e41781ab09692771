#!/usr/bin/env bash
# Builds the loader's libFuzzer target with clang in its own CMake build (only
# the loader's sources, with ASan and UBSan) and runs it for a bounded time on
# a corpus seeded with the presets. Any crash, leak, sanitizer report or
# timeout fails the test; the input that caused it is left in the build dir.
#   run_fuzz.sh SOURCE_DIR BUILD_DIR [SECONDS]
set -euo pipefail
src=$1
build=$2
seconds=${3:-${LIVEPIPE_FUZZ_SECONDS:-20}}
clangxx=$(command -v clang++-14 || command -v clang++)
clang=$(command -v clang-14 || command -v clang)

cmake -S "$src/tests/pipelines/fuzz" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_COMPILER="$clangxx" -DCMAKE_C_COMPILER="$clang" \
  -DLIVEPIPE_SOURCE_DIR="$src" >"$build.log" 2>&1 || { cat "$build.log"; exit 1; }
cmake --build "$build" >>"$build.log" 2>&1 || { cat "$build.log"; exit 1; }

# Each run starts from the seeds alone, so its time stays bounded.
corpus=$build/corpus
seeds=$build/seeds
minimal=$build/minimal
rm -rf "$corpus" "$minimal"
mkdir -p "$corpus" "$seeds" "$minimal"
cp "$src"/pipelines/presets/*.json "$src"/pipelines/presets/templates/*.json "$seeds/"
cd "$build"

# Our plugin is left out: in a sanitizer build it is instrumented by gcc's
# ASan, which cannot share a process with clang's. A private registry keeps
# the fuzzer off the suite's.
export GST_PLUGIN_PATH=
export GST_REGISTRY_1_0=$build/registry.bin
export LIVEPIPE_SOURCE_DIR=$src
export LSAN_OPTIONS=suppressions=$src/tests/lsan.supp:print_suppressions=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# Fuzz without leak checks: matching GStreamer's one-time allocations (plugin
# loading) against tests/lsan.supp needs full stacks on every malloc, which
# would cut the executions tenfold.
ASAN_OPTIONS=allocator_may_return_null=1:detect_leaks=0 \
  ./fuzz_loader -max_total_time="$seconds" -error_exitcode=1 -timeout_exitcode=1 -timeout=10 -rss_limit_mb=4096 -max_len=8192 \
  -detect_leaks=0 -dict="$src/tests/pipelines/fuzz/description.dict" -print_final_stats=1 \
  "$corpus" "$seeds"
# Then inputs covering what fuzzing reached (merged down to a covering set,
# at most 100 of them: full stacks make each run slow) once more, with leak
# checks.
ASAN_OPTIONS=allocator_may_return_null=1:detect_leaks=0 \
  ./fuzz_loader -merge=1 -timeout=10 -rss_limit_mb=4096 "$minimal" "$corpus" "$seeds" \
  2>"$build/merge.log" || { cat "$build/merge.log"; exit 1; }
leaks=$build/leak-check
rm -rf "$leaks"
mkdir -p "$leaks"
find "$minimal" -type f | shuf -n 100 | xargs -r cp -t "$leaks"
ASAN_OPTIONS=allocator_may_return_null=1:fast_unwind_on_malloc=0 \
  ./fuzz_loader -runs=0 -timeout=10 -rss_limit_mb=4096 -detect_leaks=1 "$leaks"
