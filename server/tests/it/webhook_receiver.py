"""A webhook receiver for InChart's tests: every request's signature is
checked with the official Standard Webhooks library (PyPI
`standardwebhooks`), not with InChart's code, and recorded.

It prints its port on the first line of stdout. `POST /_control` with
`{"secret": "whsec_…", "plan": [{"status": 500}, {"status": 429,
"retry_after": 1}, {"hang": 3}, …]}` sets the secret and the answers to
give, in order (200 once the plan is spent); `GET /_received` lists what
came: id, whether the signature verified, the body, the time and the
answer given.
"""

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook

lock = threading.Lock()
state = {"secret": None, "plan": [], "received": []}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, body=b"{}", extra=None):
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        with lock:
            body = json.dumps(state["received"]).encode()
        self.answer(200, body)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        if self.path == "/_control":
            control = json.loads(body)
            with lock:
                state["secret"] = control.get("secret", state["secret"])
                state["plan"] = list(control.get("plan", []))
            return self.answer(200)
        at = time.time()
        headers = {name.lower(): value for name, value in self.headers.items()}
        verified, error = True, None
        try:
            Webhook(state["secret"]).verify(body.decode(), headers)
        except Exception as failure:  # noqa: BLE001 - any failure is recorded
            verified, error = False, repr(failure)
        with lock:
            step = state["plan"].pop(0) if state["plan"] else {}
            state["received"].append(
                {
                    "id": headers.get("webhook-id"),
                    "verified": verified,
                    "error": error,
                    "body": body.decode(),
                    "at": at,
                    "status": step.get("status", 200),
                    "hang": step.get("hang", 0),
                }
            )
        if step.get("hang"):
            time.sleep(step["hang"])
        extra = {}
        if "retry_after" in step:
            extra["Retry-After"] = str(step["retry_after"])
        try:
            self.answer(step.get("status", 200), b"{}", extra)
        except (BrokenPipeError, ConnectionResetError):
            pass


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
