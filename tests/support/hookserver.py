"""What the tests' local HTTP hook endpoints share: a handler base that
answers with a status and a body and logs nothing, and a server on a free
port of 127.0.0.1 whose number is written to a file for the test to read.
"""
import http.server


class Handler(http.server.BaseHTTPRequestHandler):
    def body(self):
        length = int(self.headers.get("Content-Length", "0"))
        return self.rfile.read(length)

    def answer(self, status, text):
        self.send_response(status)
        self.send_header("Content-Length", str(len(text)))
        self.end_headers()
        self.wfile.write(text)

    def log_message(self, *args):
        pass


def serve(handler, port_file):
    """Serves forever on 127.0.0.1:<free port>, written to port_file."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    with open(port_file, "w") as out:
        out.write(str(server.server_address[1]))
    server.serve_forever()
