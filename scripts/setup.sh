#!/usr/bin/env bash
# Installs every Debian package livepipe needs to build, test and benchmark.
# Idempotent: packages already present are not touched and apt is not even
# refreshed when nothing is missing.
set -euo pipefail

packages=(
  # build
  build-essential cmake ninja-build pkg-config meson clang clang-format
  libclang-rt-14-dev
  # GStreamer 1.22 and its plugins
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev
  libgstreamer-plugins-bad1.0-dev gstreamer1.0-tools
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav
  gstreamer1.0-nice
  # ICE restart drives webrtcbin's libnice agent (signaling/media/icerestart.cpp)
  libnice-dev
  # service libraries
  libsoup-3.0-dev libjson-glib-dev libsqlite3-dev glib-networking
  # the shared-socket viewer transport: DTLS on OpenSSL, SRTP on libsrtp2
  libssl-dev libsrtp2-dev
  # tests
  libboost-test-dev curl jq ffmpeg graphviz valgrind iproute2 procps psmisc
  nginx-light libnginx-mod-rtmp coturn chromium openssl
  # the WebRTC fan-out benchmark's peer (bench/media/fanout.sh)
  janus
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

# Node.js and npm may come from another packaging of node (npm bundled with it);
# only ask Debian for them when the commands are absent.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)

if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "setup: missing packages: ${missing[*]}" >&2
    echo "setup: run as root (or install them with apt-get) and try again" >&2
    exit 1
  fi
  echo "setup: installing ${#missing[@]} packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
  # Debian starts these services on install; livepipe's tests start their own
  # instances on private ports, so keep the system copies out of the way.
  for svc in nginx coturn janus; do
    if command -v systemctl >/dev/null 2>&1; then
      systemctl disable --now "$svc" >/dev/null 2>&1 || true
    fi
    service "$svc" stop >/dev/null 2>&1 || true
  done
fi

# playwright-core drives Debian's chromium in the browser tests; it is pinned in
# tests/browser/package-lock.json and installed without downloading a browser.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [[ -f "$root/tests/browser/package.json" && ! -d "$root/tests/browser/node_modules/playwright-core" ]]; then
  echo "setup: installing browser test dependencies (npm)"
  (cd "$root/tests/browser" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --silent)
fi

# The signaling benchmark's comparison peer (a Node.js ws relay), pinned in
# bench/signaling/package-lock.json.
if [[ -f "$root/bench/signaling/package.json" && ! -d "$root/bench/signaling/node_modules/ws" ]]; then
  echo "setup: installing benchmark dependencies (npm)"
  (cd "$root/bench/signaling" && npm ci --no-audit --no-fund --silent)
fi
