"""A loopback HTTP server answering from a table of recorded responses, or failing on purpose (5xx, 401, too slow)."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit


class Answering:
    """`routes`: "METHOD /path" -> [status, json body]; otherwise every request gets `status`/`body` after `delay_s`."""

    def __init__(self, routes: dict[str, Any] | None = None, *, status: int = 404, body: Any = None, delay_s: float = 0.0):
        self.requests: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                path = urlsplit(self.path).path
                outer.requests.append(f"{self.command} {path}")
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                if delay_s:
                    time.sleep(delay_s)
                code, payload = (routes or {}).get(f"{self.command} {path}", [status, body if body is not None else {"error": "no route"}])
                data = json.dumps(payload).encode()
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the client gave up (timeouts)

            do_GET = do_POST = do_PATCH = do_DELETE = do_HEAD = _answer

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "Answering":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
