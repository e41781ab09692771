#!/usr/bin/env bash
# The livepipe CLI with descriptions: `launch -f` with params, exit codes,
# Ctrl-C with and without -e, the status line, --graph, `validate` and
# `inspect`.
set -euo pipefail
livepipe=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"

fail() { echo "FAIL: $*" >&2; exit 1; }
frames() {
  ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames \
    -of csv=p=0 "$1" 2>/dev/null || true
}
# Runs the CLI, keeping its exit code in $code and stderr in $tmp/err.
run() {
  set +e
  "$livepipe" "$@" >"$tmp/out" 2>"$tmp/err"
  code=$?
  set -e
}
expect_code() {
  [[ $code == "$1" ]] || { cat "$tmp/err"; fail "$2: exit $code, want $1"; }
}
expect_err() {
  grep -qF -- "$1" "$tmp/err" || { cat "$tmp/err"; fail "stderr lacks '$1'"; }
}

# A preset runs by name with params and writes a file ffprobe reads.
run launch -q -f testsrc-beauty-file -p location="$tmp/a.mp4" -p num-buffers=25 \
  -p width=320 -p height=240
expect_code 0 "preset"
[[ $(frames "$tmp/a.mp4") == 25 ]] || fail "expected 25 frames in a.mp4"
[[ ! -s $tmp/err ]] || { cat "$tmp/err"; fail "-q printed something"; }

# Invalid input: exit 2 with the problem named.
run launch -q -f testsrc-beauty-file
expect_code 2 "missing param"
expect_err "missing required param 'location'"
run launch -q -f testsrc-beauty-file -p location=x.mp4 -p widht=3 -p height=tall
expect_code 2 "bad params"
expect_err "unknown param 'widht' for 'testsrc-beauty-file' (closest: 'width')"
expect_err "param 'height': \"tall\" is not an integer"
run launch -q -f no-such-preset
expect_code 2 "missing preset"
expect_err "no file or preset 'no-such-preset'"
run launch -q -f record-file -p location=x.mp4
expect_code 2 "branch"
expect_err "is a branch"
run launch -q -p a=b videotestsrc ! fakesink
expect_code 2 "-p without -f"
run launch -q -f testsrc-beauty-file -p location=x.mp4 videotestsrc ! fakesink
expect_code 2 "-f and a pipeline"

cat >"$tmp/bad.json" <<'EOF'
{
  "name": "bad",
  "summary": "three problems",
  "elements": [
    {"id": "src", "factory": "videotestsrcc"},
    {"id": "sink", "factory": "fakesink", "properties": {"synk": false}}
  ],
  "links": [{"from": "src", "to": "sinc"}]
}
EOF
run launch -q -f "$tmp/bad.json"
expect_code 2 "invalid description"
expect_err "$tmp/bad.json:5:19: \$.elements[0].factory: unknown factory 'videotestsrcc' (closest: 'videotestsrc'"
expect_err "$tmp/bad.json:6:58: \$.elements[1].properties.synk: unknown property 'synk' of fakesink"
expect_err "$tmp/bad.json:8:29: \$.links[0].to: link to missing id 'sinc' (closest: 'sink', 'src')"

# A runtime error names the element by its description id: exit 1.
cat >"$tmp/missing-input.json" <<'EOF'
{"name": "missing-input", "summary": "reads a file that is not there",
 "elements": [{"id": "input", "factory": "filesrc", "properties": {"location": "/nonexistent"}},
              {"id": "out", "factory": "fakesink"}],
 "links": [{"from": "input", "to": "out"}]}
EOF
run launch -q -f "$tmp/missing-input.json"
expect_code 1 "runtime error"
expect_err "ERROR from input:"

# Ctrl-C with -e sends EOS and waits: the MP4 is finalized and plays. Without
# -e the pipeline just stops and the MP4 has no index.
interrupt() {  # interrupt OUT ARGS...: start livepipe, SIGINT it once it writes
  local out=$1
  shift
  "$livepipe" "$@" 2>"$tmp/err" &
  local pid=$!
  for _ in $(seq 100); do
    [[ -s $out ]] && break
    sleep 0.1
  done
  sleep 1
  kill -INT "$pid"
  set +e
  wait "$pid"
  code=$?
  set -e
}
interrupt "$tmp/e.mp4" launch -e -q videotestsrc is-live=true \
  ! video/x-raw,width=320,height=240,framerate=30/1 ! x264enc tune=zerolatency \
  ! mp4mux ! filesink location="$tmp/e.mp4"
expect_code 0 "-e SIGINT"
n=$(frames "$tmp/e.mp4")
[[ $n =~ ^[0-9]+$ ]] && ((n > 10)) || fail "after -e and SIGINT ffprobe counted '$n' frames"

interrupt "$tmp/f.mp4" launch -e -q -f testsrc-beauty-file -p location="$tmp/f.mp4" \
  -p live=true -p num-buffers=-1 -p width=320 -p height=240
expect_code 0 "-e SIGINT on a preset"
n=$(frames "$tmp/f.mp4")
[[ $n =~ ^[0-9]+$ ]] && ((n > 10)) || fail "preset after -e and SIGINT: '$n' frames"

interrupt "$tmp/g.mp4" launch -q videotestsrc is-live=true \
  ! video/x-raw,width=320,height=240,framerate=30/1 ! x264enc tune=zerolatency \
  ! mp4mux ! filesink location="$tmp/g.mp4"
expect_code 0 "SIGINT without -e"
n=$(frames "$tmp/g.mp4")
[[ ! $n =~ ^[1-9] ]] || fail "without -e the MP4 should be unfinished, ffprobe counted $n"

# Status: plain lines when stderr is not a terminal, nothing with -q, one
# line redrawn in place on a terminal.
live_second=(videotestsrc is-live=true num-buffers=40 ! video/x-raw,width=160,height=120,framerate=30/1
             ! x264enc tune=zerolatency ! h264parse ! fakesink)
run launch --status-interval 0.2 "${live_second[@]}"
expect_code 0 "status lines"
lines=$(grep -c '^status: ' "$tmp/err" || true)
((lines >= 3)) || { cat "$tmp/err"; fail "expected periodic status lines, got $lines"; }
grep -qE '^status: 0:00:0[0-9]\.[0-9]( / [0-9:.]+)?  [0-9.]+ fps  [0-9.]+ (k|M)bit/s$' "$tmp/err" ||
  { cat "$tmp/err"; fail "status line format"; }
grep -q $'\r' "$tmp/err" && fail "plain status lines must not redraw"
run launch -q --status-interval 0.2 "${live_second[@]}"
[[ ! -s $tmp/err ]] || { cat "$tmp/err"; fail "-q printed a status"; }
script -qec "'$livepipe' launch --status-interval 0.2 ${live_second[*]}" /dev/null >"$tmp/tty" ||
  fail "status on a terminal: livepipe failed"
grep -q $'\r\e\[K0:00:0' "$tmp/tty" || { cat -v "$tmp/tty"; fail "no in-place status on a terminal"; }

# --graph renders the running pipeline with graphviz; .dot keeps the text.
run launch -q --graph "$tmp/graph.svg" -f testsrc-beauty-file -p location="$tmp/h.mp4" \
  -p num-buffers=5 -p width=160 -p height=120
expect_code 0 "graph"
grep -q '<svg' "$tmp/graph.svg" || fail "graph.svg is not SVG"
grep -q 'encoder/x264' "$tmp/graph.svg" || fail "graph.svg lacks the description ids"
run launch -q --graph "$tmp/graph.dot" videotestsrc num-buffers=3 ! fakesink
grep -q 'digraph' "$tmp/graph.dot" || fail "graph.dot is not dot"

# validate: every preset is valid; a broken file lists every problem, exit 2.
src=${LIVEPIPE_SOURCE_DIR:?}
run validate "$src"/pipelines/presets/*.json
expect_code 0 "validate presets"
[[ $(grep -c ': ok$' "$tmp/out") -ge 6 ]] || { cat "$tmp/out"; fail "validate printed no ok lines"; }
run validate testsrc-beauty-file "$tmp/bad.json" "$tmp/nothing.json"
expect_code 2 "validate bad"
expect_err "unknown factory 'videotestsrcc'"
expect_err "unknown property 'synk'"
expect_err "link to missing id 'sinc'"
expect_err "unused element 'sink'"
expect_err "$tmp/bad.json: 4 problems"
expect_err "$tmp/nothing.json: no such file or preset"
grep -q 'testsrc-beauty-file.json: ok' "$tmp/out" || fail "valid file not reported ok"
run validate -p location=y.mp4 -p width=big testsrc-beauty-file
expect_code 2 "validate with params"
expect_err "param 'width': \"big\" is not an integer"

# inspect: our elements, the presets with params; one preset in detail with
# an example command that works.
run inspect
expect_code 0 "inspect"
for want in lpbeauty testsrc-beauty-file webrtc-publish-fanout webrtc-publish-rtmp \
            rtmp-pull-webrtc-fanout record-file replay-file "-p location=string (required)"; do
  grep -qF -- "$want" "$tmp/out" || { cat "$tmp/out"; fail "inspect lacks '$want'"; }
done
run inspect testsrc-beauty-file
expect_code 0 "inspect preset"
for want in "Params:" "smoothing" "double  lpbeauty smoothing strength" "default 0.6, 0..1" \
            "Example:" "livepipe launch -e -f testsrc-beauty-file -p location=out.mp4"; do
  grep -qF -- "$want" "$tmp/out" || { cat "$tmp/out"; fail "inspect preset lacks '$want'"; }
done
example=$(grep -F 'livepipe launch -e -f testsrc-beauty-file' "$tmp/out" | sed 's/^ *livepipe //')
# shellcheck disable=SC2086
run $example -q -p num-buffers=10 -p width=160 -p height=120
expect_code 0 "the example command"
[[ $(frames "$tmp/out.mp4") == 10 ]] || fail "the example command wrote no playable out.mp4"
run inspect webrtc-publish-fanout
for want in "Slots" "video-rtp" "fan-out" "audio-opus"; do
  grep -qF -- "$want" "$tmp/out" || { cat "$tmp/out"; fail "inspect fan-out lacks '$want'"; }
done
run inspect record-file
grep -qF "A branch" "$tmp/out" || fail "inspect record-file does not say it is a branch"
run inspect lpbeauty
grep -qF "smoothing" "$tmp/out" || fail "inspect lpbeauty lacks its properties"
run inspect testsrc-beauty-fil
expect_code 2 "inspect unknown"
expect_err "(closest: 'testsrc-beauty-file')"
echo "cli pipelines ok"
