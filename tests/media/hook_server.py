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
import http.server
import json
import sys
import time


class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(length))
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

    def answer(self, status, text):
        self.send_response(status)
        self.send_header("Content-Length", str(len(text)))
        self.end_headers()
        self.wfile.write(text)

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
with open(sys.argv[1], "w") as out:
    out.write(str(server.server_address[1]))
server.serve_forever()
