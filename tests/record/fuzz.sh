#!/usr/bin/env bash
# The recording parsers' libFuzzer targets, built once with clang in their own
# build directory and then each run for a bounded time from its seed corpus.
#   fuzz.sh build SOURCE_DIR BUILD_DIR
#   fuzz.sh run BUILD_DIR TARGET SEED_DIR SECONDS
set -euo pipefail
if ! command -v clang++ >/dev/null; then
  echo "skipped: clang++ is not installed"
  exit 77
fi
case $1 in
  build)
    src=$2 build=$3
    cmake -S "$src" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DLIVEPIPE_FUZZ=ON \
      -DLIVEPIPE_BENCH=OFF >/dev/null
    cmake --build "$build" --target fuzz_record_paths fuzz_record_mp4 fuzz_record_manifest fuzz_record_api \
      >/dev/null
    ;;
  run)
    build=$2 target=$3 seeds=$4 seconds=$5
    binary="$build/tests/record/$target"
    if [[ ! -x $binary ]]; then
      echo "$binary is missing: the fuzz_record_build test did not build it" >&2
      exit 1
    fi
    corpus=$(mktemp -d)
    trap 'rm -rf "$corpus"' EXIT
    cp "$seeds"/* "$corpus"/
    # New inputs go to a scratch copy; the seeds in the tree stay as they are.
    # libFuzzer exits with 77 on a crash by default, which ctest would take
    # for SKIP_RETURN_CODE: a crash, a leak or a timeout must fail the test.
    "$binary" -max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 -max_len=16384 \
      -error_exitcode=1 -timeout_exitcode=1 \
      -print_final_stats=1 -artifact_prefix="$build/" "$corpus" 2>&1 | tail -n 12
    ;;
  *)
    echo "usage: fuzz.sh build SOURCE_DIR BUILD_DIR | run BUILD_DIR TARGET SEED_DIR SECONDS" >&2
    exit 2
    ;;
esac
