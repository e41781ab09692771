#!/usr/bin/env bash
# Installs what is missing, builds livepipe and runs its main job, the
# signaling service with its web page. Arguments, when given, are passed to
# the `livepipe` command instead.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
bash scripts/setup.sh
cmake -S . -B build -G Ninja >/dev/null
cmake --build build -j "$(nproc)" --target livepipe gstlivepipe
if (($#)); then
  exec build/apps/livepipe "$@"
fi
# The main job: the signaling service on its defaults (127.0.0.1:8080); it
# prints the URL of its web page and stops cleanly on Ctrl-C.
echo "livepipe: starting the signaling service; open the URL below in two browser tabs"
exec build/apps/livepipe serve
