"""A real DogStatsD listener for tests: UDP or UDS datagram sockets, parsed lines.

Every metric it parses is recorded in PRODUCED, which the catalog contract
check in conftest.py compares with catalog.csv at the end of the session.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass

PRODUCED: set[str] = set()
_TYPES = {"c": "count", "g": "gauge", "d": "distribution", "h": "histogram", "ms": "timer", "s": "set"}


def produced(metrics):
    """Check metrics made outside an emitter against the catalog, and record them as produced."""
    from orgpulse.metrics import problem

    for metric in metrics:
        assert problem(metric) is None, metric
        PRODUCED.add(metric.name)
    return metrics


@dataclass(frozen=True)
class Line:
    name: str
    type: str
    value: float
    tags: tuple[str, ...]

    @property
    def tag_map(self) -> dict[str, str]:
        return dict(t.split(":", 1) for t in self.tags if ":" in t)


def parse_line(line: str) -> Line:
    head, *fields = line.split("|")
    name, value = head.rsplit(":", 1)
    tags: tuple[str, ...] = ()
    for part in fields[1:]:
        if part.startswith("#"):
            tags = tuple(part[1:].split(","))
    return Line(name, _TYPES[fields[0]], float(value), tags)


class Listener:
    def __init__(self, family: int, address):
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sock.bind(address)
        self.sock.settimeout(0.05)
        self.address = self.sock.getsockname()
        self.lines: list[Line] = []
        self.datagrams = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(65536)
            except (TimeoutError, OSError):
                continue
            parsed = [parse_line(x) for x in data.decode().splitlines() if x]
            with self._lock:
                self.datagrams += 1
                self.lines.extend(parsed)
            PRODUCED.update(p.name for p in parsed)

    def metrics(self, prefix: str = "", wait_for: int = 0, timeout: float = 3.0) -> list[Line]:
        """The lines received so far whose name starts with prefix, waiting until
        at least `wait_for` such lines arrived (or the timeout)."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                found = [x for x in self.lines if x.name.startswith(prefix)]
            if len(found) >= wait_for or time.monotonic() > deadline:
                return found
            time.sleep(0.01)

    def settle(self, quiet: float = 0.2) -> list[Line]:
        """Everything received once nothing new has arrived for `quiet` seconds."""
        last = -1
        while True:
            with self._lock:
                count = len(self.lines)
            if count == last:
                with self._lock:
                    return list(self.lines)
            last = count
            time.sleep(quiet)

    def clear(self) -> None:
        with self._lock:
            self.lines.clear()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=1)
        self.sock.close()


def udp_listener() -> Listener:
    return Listener(socket.AF_INET, ("127.0.0.1", 0))


def uds_listener(path: str) -> Listener:
    return Listener(socket.AF_UNIX, path)
