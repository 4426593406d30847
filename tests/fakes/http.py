"""A small threaded HTTP server base for wire-level fakes of provider APIs.

Routes are (method, regex) → handler(request, match) -> (status, headers, body).
Failures can be scripted per route prefix: each queued (status, headers, delay)
is served once, before the normal answer. Every request is counted by path.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
from collections import Counter, defaultdict, deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body or b"null")


class Server(ThreadingHTTPServer):
    """socketserver prints a traceback for any error of a connection's thread. A client that
    hangs up — a timeout, a process stopping, a reused keep-alive connection it dropped — is
    no error of the fake's: counted, not printed. Every other error is still printed."""

    daemon_threads = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.disconnects = 0
        self._count = threading.Lock()

    def handle_error(self, request, client_address) -> None:
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            with self._count:
                self.disconnects += 1
            return
        super().handle_error(request, client_address)


class FakeServer:
    routes: list[tuple[str, str, str]] = []  # (method, pattern, method name)

    def __init__(self, port: int = 0):  # 0: any free port; a given one: a server coming back up
        self.requests: Counter = Counter()
        self.log: list[Request] = []
        self._failures: dict[str, deque] = defaultdict(deque)
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body leave in separate writes: without TCP_NODELAY a response can
            # wait ~40 ms for the client's delayed ACK (Nagle), most of a test's time.
            disable_nagle_algorithm = True

            def log_message(self, *args):  # quiet
                pass

            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                url = urlparse(self.path)
                req = Request(
                    self.command,
                    url.path,
                    parse_qs(url.query),
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length) if length else b"",
                )
                status, headers, body = fake.dispatch(req)
                if hasattr(body, "__next__"):  # a generator: stream it chunked (watches)
                    self._stream(status, headers, body)
                    return
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                try:
                    self.send_response(status)
                    for key, value in {"Content-Type": "application/json", **headers}.items():
                        self.send_header(key, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

            def _stream(self, status, headers, chunks):
                try:
                    self.send_response(status)
                    for key, value in {"Content-Type": "application/json", **headers}.items():
                        self.send_header(key, value)
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    for chunk in chunks:
                        if chunk is None:  # the fake drops the connection mid-stream
                            self.close_connection = True
                            self.connection.shutdown(2)
                            return
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                        self.wfile.flush()
                    self.wfile.write(b"0\r\n\r\n")
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError, OSError):
                    pass
                finally:
                    self.close_connection = True

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

        self.server = Server(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        # close() waits for the serving loop to notice: poll often (the default is 0.5 s).
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self._thread.start()

    def fail(self, prefix: str, *answers: tuple[int, dict, float]) -> None:
        """Serve these (status, headers, delay_seconds) answers first for paths under prefix."""
        with self._lock:
            self._failures[prefix].extend(answers)

    def dispatch(self, req: Request):
        with self._lock:
            self.requests[req.path] += 1
            self.log.append(req)
            scripted = next((q.popleft() for p, q in self._failures.items() if req.path.startswith(p) and q), None)
        if scripted is not None:
            status, headers, delay = scripted
            time.sleep(delay)
            return status, headers, {"errors": [{"message": f"scripted {status}"}]}
        for method, pattern, name in self.routes:
            match = re.fullmatch(pattern, req.path)
            if method == req.method and match:
                return getattr(self, name)(req, match)
        return 404, {}, {"errors": [{"message": f"no route {req.method} {req.path}"}]}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
