#!/usr/bin/env bash
# Installs what is missing, builds livepipe and runs the whole test suite.
#   scripts/test.sh            build in build/ and run every test
#   scripts/test.sh --asan     build in build-asan/ with AddressSanitizer and
#                              LeakSanitizer and run every test there
# Extra arguments after -- go to ctest (e.g. -- -R beauty).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

asan=0
ctest_args=()
while (($#)); do
  case $1 in
    --asan) asan=1 ;;
    --) shift; ctest_args=("$@"); break ;;
    *) echo "usage: scripts/test.sh [--asan] [-- CTEST-ARGS...]" >&2; exit 2 ;;
  esac
  shift
done

bash scripts/setup.sh

jobs=$(nproc)
if ((asan)); then
  build=build-asan
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DLIVEPIPE_ASAN=ON \
    -DLIVEPIPE_BENCH=OFF >/dev/null
else
  build=build
  cmake -S . -B "$build" -G Ninja >/dev/null
fi
cmake --build "$build" -j "$jobs"
cd "$build"
ctest --output-on-failure --timeout 900 -j "$jobs" "${ctest_args[@]}"
