"""A webhook receiver for the CI checks: answers 200 to every POST on 127.0.0.1 and prints its
port on the first line. Given a file, it also writes each body's `data.i` there, a line each.
Usage: python3 scripts/receiver.py [RECORD_FILE]"""
import http.server, json, socketserver, sys, threading

out = open(sys.argv[1], "a", buffering=1) if len(sys.argv) > 1 else None
lock = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        if out is not None:
            with lock:
                out.write("%s\n" % json.loads(body)["data"]["i"])
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
