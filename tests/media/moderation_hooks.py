#!/usr/bin/env python3
"""The moderation hook and notification endpoints for moderation_service.sh.

  moderation_hooks.py PORT_FILE LOG_DIR

Binds 127.0.0.1 on a free port and writes that port to PORT_FILE.
  POST /moderate  lpmoderator's webhook: answers the next scripted verdict
                  (after its delay), "allow" when the script is empty; logs
                  each snapshot to LOG_DIR/moderate.jsonl
  POST /script    appends [{"verdict": ..., "delay_ms": ..., "reason": ...}]
                  to the script
  POST /notify/NAME  a notification endpoint: logs each attempt to
                  LOG_DIR/NAME.jsonl; /notify/flaky answers 500 to its first
                  two requests, then 204; the others answer 204
"""
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import hookserver  # noqa: E402

lock = threading.Lock()
script = []
flaky_seen = 0


def log(name, record):
    with lock:
        with open(os.path.join(sys.argv[2], name + ".jsonl"), "a") as out:
            out.write(json.dumps(record) + "\n")


class Hook(hookserver.Handler):
    def do_POST(self):
        global flaky_seen
        body = json.loads(self.body() or b"null")
        if self.path == "/script":
            with lock:
                script.extend(body)
            self.answer(204, b"")
        elif self.path == "/moderate":
            with lock:
                step = script.pop(0) if script else {"verdict": "allow"}
            time.sleep(step.get("delay_ms", 0) / 1000)
            log("moderate", {"sequence": body["sequence"], "stream_id": body["stream_id"],
                             "width": body["width"], "verdict": step["verdict"],
                             "answered_ms": int(time.time() * 1000)})
            reply = {"verdict": step["verdict"], "reason": step.get("reason", "scripted")}
            self.answer(200, json.dumps(reply).encode())
        elif self.path.startswith("/notify/"):
            name = self.path[len("/notify/"):]
            status = 204
            if name == "flaky":
                with lock:
                    flaky_seen += 1
                    status = 500 if flaky_seen <= 2 else 204
            log(name, {"status": status, "at_ms": int(time.time() * 1000), "body": body})
            self.answer(status, b"")
        else:
            self.answer(404, b"")


hookserver.serve(Hook, sys.argv[1])
