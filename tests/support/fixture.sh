# The shell integration tests' common fixture. A test sources it first:
#
#   livepipe=$1
#   source "$(dirname "$0")/../support/fixture.sh"
#
# and gets a private temp dir ($dir, removed at exit), the processes it
# started stopped by PID at exit (append each PID to pids), named checks that
# count failures, bounded waits, and `livepipe serve` started on loopback. It
# ends with `finish`, which prints the logs that explain a failure.
set -uo pipefail

dir=$(mktemp -d)
pids=()
failures=0
# Tests that must not let a process shut down cleanly (a crash is part of
# what they check) set this to KILL.
fixture_kill_signal=TERM

fixture_cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill -s "$fixture_kill_signal" "$pid" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$dir"
}
trap fixture_cleanup EXIT

check() {  # check NAME EXPECTED ACTUAL
  if [[ "$2" == "$3" ]]; then
    echo "ok   $1"
  else
    echo "FAIL $1: expected $2, got $3"
    failures=$((failures + 1))
  fi
}

truth() {  # truth VALUE: 1 when VALUE is 1, else 0
  [[ "$1" == 1 ]] && echo 1 || echo 0
}

wait_for() {  # wait_for SECONDS COMMAND...: true once COMMAND succeeds
  local end=$(($(date +%s) + $1))
  shift
  while (($(date +%s) < end)); do
    "$@" && return 0
    sleep 0.2
  done
  return 1
}

free_port() {  # a TCP port free on 127.0.0.1 right now
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

json() {  # json FILE PYTHON-EXPRESSION-ON-d: prints the expression over FILE's JSON
  python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1" 2>/dev/null
}

# serve_livepipe CONFIG PORT [ARGS...]: starts `livepipe serve` on
# 127.0.0.1:PORT with its output appended to $dir/serve.log, sets $server to
# its PID, and waits (at most 10 s) until it answers /healthz.
serve_livepipe() {
  "$livepipe" serve --config "$1" --listen "127.0.0.1:$2" "${@:3}" >>"$dir/serve.log" 2>&1 &
  server=$!
  pids+=("$server")
  wait_for 10 curl -sf -o /dev/null "http://127.0.0.1:$2/healthz"
}

# finish [LOG...]: exits 0 when every check passed; otherwise prints the tail
# of each LOG and of the server's log, and exits 1.
finish() {
  if ((failures)); then
    local log
    for log in "$@"; do
      [[ -f $log ]] || continue
      echo "--- $log"
      tail -n 20 "$log"
    done
    echo "--- serve.log"
    tail -n 40 "$dir/serve.log" 2>/dev/null
    exit 1
  fi
  exit 0
}

stop_livepipe() {  # stops the server with SIGINT, as Ctrl-C does; checks it exits 0
  kill -INT "$server"
  wait "$server"
  check "server stopped" 0 $?
}
