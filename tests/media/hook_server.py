#!/usr/bin/env python3
"""The access hook endpoint for access_hooks.sh: logs each request body as one
JSON line and answers by the stream's name and query.

  hook_server.py PORT_FILE LOG_FILE

Binds 127.0.0.1 on a free port and writes that port to PORT_FILE.
  publish "denied": 403 with a reason padded by whitespace
  publish "slow":   answers 200 only after 5 s
  play with query who=blocked: 403 with an empty body
  anything else:    204
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import hookserver  # noqa: E402


class Hook(hookserver.Handler):
    def do_POST(self):
        body = json.loads(self.body())
        with open(sys.argv[2], "a") as log:
            log.write(json.dumps(body) + "\n")
        if body["action"] == "publish" and body["stream"] == "denied":
            self.answer(403, b"  \n no cameras here today \n")
        elif body["action"] == "publish" and body["stream"] == "slow":
            time.sleep(5)
            self.answer(200, b"")
        elif body["action"] == "play" and body["query"].get("who") == "blocked":
            self.answer(403, b"")
        else:
            self.answer(204, b"")


hookserver.serve(Hook, sys.argv[1])
