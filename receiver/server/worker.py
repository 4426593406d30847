"""The receiver's gunicorn worker: gthread, but a thread only ever sees a complete request.

gunicorn's gthread hands a connection to a thread as soon as its first byte arrives; a
client that then sends 1 byte/s holds that thread for as long as it likes, and 8 such
clients (anyone on the internet, signed or not) stalled every delivery for 16–36 s
(bench/slow_clients.py measures it). Here the main loop reads each
request — headers and body — without blocking, into a buffer (receiver/server/framing.py says
where it ends), and only then queues it for a thread. A request that has not arrived
within receiver.request_deadline_seconds is answered 408 and its connection closed
(counted as orgpulse.receiver.rejected{reason:timeout}). Buffered bytes are bounded by
receiver.buffer_budget_bytes; past it a request is handed over as gthread would, its
reads bounded by what is left of its deadline.

Also: a response the app marks `Connection: close` (a 413 or 400 that left the body
unread) closes the connection and says so (the client must not send its next request on a
connection whose last body was never read), and connections are closed with
a non-blocking linger in the main loop, never a blocking drain that stalls it.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import selectors
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from functools import partial
from typing import Any

from gunicorn.workers.gthread import STOP_KEEPALIVE_LINGER, TConn, ThreadWorker

from orgpulse.config import DEFAULT_MAX_BODY_BYTES
from orgpulse.options import SCHEMA
from receiver.server.framing import MORE, Arrival

M_MMAP_THRESHOLD, M_ARENA_MAX = -3, -8  # glibc mallopt() parameters
LINGER_SECONDS = 2.0  # after our FIN, how long a closing connection may keep sending
LINGER_BYTES = 64 * 1024
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
TIMEOUT_BODY = b'{"result":"timeout"}'
TIMEOUT = (
    b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n"
    b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(TIMEOUT_BODY), TIMEOUT_BODY)
)

_current = threading.local()  # the gunicorn Request a thread is answering


def closing_app(app):
    """WSGI middleware: an app's `Connection: close` (which gunicorn drops as hop-by-hop)
    makes gunicorn close the connection and announce it, instead of saying keep-alive."""

    def wrapped(environ, start_response):
        def start(status, headers, exc_info=None):
            if any(k.lower() == "connection" and v.lower() == "close" for k, v in headers):
                req = getattr(_current, "req", None)
                if req is not None:
                    req.must_close = True
            return start_response(status, headers, exc_info)

        return app(environ, start)

    return wrapped


class Conn(TConn):
    def init(self):
        """Every blocking read or write of a thread stops at the request's deadline
        (at least a second, to write the answer): gthread's reads have no deadline."""
        super().init()
        self.sock.settimeout(max(1.0, self.arrival.deadline - time.monotonic()))


def tune_malloc() -> None:
    """glibc's allocator, set before the threads start (bench/soak.py measured why):
    a fixed mmap threshold keeps large bodies in mmap'd blocks returned to the system
    when freed (the default threshold rises to each freed block's size, so 1 MB bodies
    then fragment the heap), and two arenas instead of 8 per core keep 8 threads from
    each holding on to their own freed memory."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(M_MMAP_THRESHOLD, 128 * 1024)
        libc.mallopt(M_ARENA_MAX, 2)
    except (OSError, AttributeError):  # not glibc (musl, macOS): its own defaults
        pass


def _recv(sock) -> bytes | None:
    """What a non-blocking socket has: bytes; b"" once closed or failed; None if nothing yet."""
    try:
        return sock.recv(65536)
    except (BlockingIOError, InterruptedError):
        return None
    except OSError:
        return b""


class BufferingWorker(ThreadWorker):
    wsgi: Callable[..., Any]  # the app gunicorn's load_wsgi sets; wrapped in closing_app below

    def init_process(self):
        tune_malloc()
        self.waiting: deque[TConn] = deque()  # reading a request, oldest deadline first
        self.lingering: deque[TConn] = deque()
        self.buffered = 0
        super().init_process()

    def load_wsgi(self):
        super().load_wsgi()
        self.app = self.wsgi
        self.wsgi = closing_app(self.app)
        state = getattr(self.app, "extensions", {}).get("orgpulse")
        if state is None:  # another WSGI app (bench/bare_app.py): the defaults, nothing counted
            opts = {key: option.default for key, option in SCHEMA["receiver"].items()}
            self.limit, self.count_timeout = DEFAULT_MAX_BODY_BYTES, lambda path: None
        else:
            opts = state.settings.section("receiver")
            self.limit, self.count_timeout = state.settings.max_body_bytes, state.envelope.timed_out
        self.deadline = opts["request_deadline_seconds"]
        self.budget = opts["buffer_budget_bytes"]

    # -- reading requests in the main loop -------------------------------------------

    def accept(self, listener):
        if self.cfg.is_ssl:  # TLS is terminated by the ingress; bytes here would be ciphertext
            return super().accept(listener)
        try:
            sock, client = listener.accept()
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                return
            raise
        self.nr_conns += 1
        self._await(Conn(self.cfg, sock, client, listener.getsockname()), b"")

    def _await(self, conn: TConn, leftover: bytes) -> None:
        conn.arrival = Arrival(self.limit, time.monotonic() + self.deadline)
        conn.sock.setblocking(False)
        self.waiting.append(conn)
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._readable, conn))
        if leftover:  # pipelined behind the previous request
            self._feed(conn, leftover)

    def _readable(self, conn: TConn, sock) -> None:
        data = _recv(sock)
        if data is None:
            return
        if not data:  # the client closed (or half-closed) before the request was complete
            self._unwait(conn)
            if conn.arrival.head_end is not None:
                self._dispatch(conn)  # a short body: the app answers 400
            else:
                self._close(conn)
            return
        self._feed(conn, data)

    def _feed(self, conn: TConn, data: bytes) -> None:
        arrival = conn.arrival
        had_head = arrival.head_end is not None
        self.buffered += len(data)
        if arrival.feed(data) is not MORE or self.buffered > self.budget:
            self._unwait(conn)
            self._dispatch(conn)
        elif not had_head and arrival.head_end is not None and arrival.expects_continue:
            self._send(conn, CONTINUE)

    def _unwait(self, conn: TConn) -> None:
        self.waiting.remove(conn)
        self.poller.unregister(conn.sock)
        self.buffered -= len(conn.arrival.data)

    def _dispatch(self, conn: TConn) -> None:
        conn.pending = conn.arrival.take()
        conn.data_ready = True  # gthread must not wait for more data before parsing
        self.enqueue_req(conn)

    def handle(self, conn: TConn):
        """In a thread: the buffered bytes first, then (only past the budget) the socket,
        its reads bounded by what is left of the request's deadline (Conn.init)."""
        if not hasattr(conn, "arrival"):
            return super().handle(conn)
        conn.sock.setblocking(True)
        conn.init()
        conn.parser.unreader.unread(conn.pending)
        conn.pending = b""
        try:
            return super().handle(conn)
        finally:
            _current.req = None

    def handle_request(self, req, conn):
        _current.req = req
        return super().handle_request(req, conn)

    def wait_for_and_dispatch_events(self, timeout):
        """gthread waits up to a second; wake for the next request deadline instead."""
        if self.waiting:
            timeout = max(0.0, min(timeout, self.waiting[0].arrival.deadline - time.monotonic()))
        super().wait_for_and_dispatch_events(timeout)

    def murder_pending(self):
        """Each loop: requests past their deadline get 408; lingering closes end; a
        stopping worker closes connections on which no request has started."""
        super().murder_pending()
        now = time.monotonic()
        for conn in [c for c in self.waiting if not self.alive and not c.arrival.started]:
            self._unwait(conn)
            self._close(conn)
        while self.waiting and self.waiting[0].arrival.deadline <= now:
            conn = self.waiting[0]
            self._unwait(conn)
            if conn.arrival.started:
                self._send(conn, TIMEOUT)
                self.count_timeout(conn.arrival.path)
            self._close(conn)
        while self.lingering and self.lingering[0].linger_until <= now:
            self._end_linger(self.lingering[0])

    # -- answering and closing -----------------------------------------------------------

    def finish_request(self, conn, fs):
        if not hasattr(conn, "arrival"):  # TLS: gthread's own path
            return super().finish_request(conn, fs)
        try:
            keepalive = bool(fs.result()) if not fs.cancelled() else False
        except Exception:  # noqa: BLE001 - a failed thread: close as gthread would
            keepalive = False
        if not keepalive:
            return self._close(conn)
        leftover = conn.parser.unreader.take_buffered()
        if leftover:
            return self._await(conn, leftover)
        # Idle keep-alive, as gthread: closed after `keepalive` seconds (a stopping
        # worker: STOP_KEEPALIVE_LINGER); its next request starts a new Arrival —
        # and deadline — with its first byte.
        conn.sock.setblocking(False)
        conn.set_timeout()
        if not self.alive:
            conn.timeout = min(conn.timeout, time.monotonic() + STOP_KEEPALIVE_LINGER)
        self.keepalived_conns.append(conn)
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self.on_client_socket_readable, conn))

    def on_client_socket_readable(self, conn, client):
        self.poller.unregister(client)
        self.keepalived_conns.remove(conn)
        self._await(conn, b"")
        self._readable(conn, conn.sock)

    def _send(self, conn: TConn, data: bytes) -> None:
        with contextlib.suppress(OSError):
            conn.sock.send(data)  # a few hundred bytes into an empty send buffer

    def _close(self, conn: TConn) -> None:
        """Half-close, then drain what the client still sends, from the main loop."""
        try:
            conn.sock.shutdown(socket.SHUT_WR)
            conn.sock.setblocking(False)
        except OSError:
            self.nr_conns -= 1
            conn.close()
            return
        conn.linger_until = time.monotonic() + LINGER_SECONDS
        conn.drained = 0
        self.lingering.append(conn)
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._drain, conn))

    def _drain(self, conn: TConn, sock) -> None:
        data = _recv(sock)
        if data is None:
            return
        conn.drained += len(data)
        if not data or conn.drained > LINGER_BYTES:
            self._end_linger(conn)

    def _end_linger(self, conn: TConn) -> None:
        self.lingering.remove(conn)
        self.poller.unregister(conn.sock)
        self.nr_conns -= 1
        conn.close()
