"""tests/fakes/http.py's server: a client hanging up mid-request is no traceback on the
console (`make demo` printed `ConnectionResetError: [Errno 104]` from socketserver), while
any other error in a fake still is."""

from __future__ import annotations

import socket
import struct
import time
import urllib.error
import urllib.request

import pytest

from tests.fakes.http import FakeServer


class Broken(FakeServer):
    routes = [("GET", r"/ok", "ok"), ("GET", r"/bug", "bug")]

    def ok(self, req, match):
        return 200, {}, {"ok": True}

    def bug(self, req, match):
        raise ValueError("a bug in the fake")


def wait_until(check, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not check() and time.monotonic() < deadline:
        time.sleep(0.01)
    return check()


def hang_up(url: str) -> None:
    """Half a request, then a reset (SO_LINGER 0), as a client giving up does."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(b"GET /ok HTTP/1.1\r\nHost: x\r\n")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


@pytest.fixture
def fake():
    server = Broken()
    yield server
    server.close()


def test_a_client_hanging_up_prints_nothing_and_is_counted(fake, capfd):
    for _ in range(3):
        hang_up(fake.url)
    seen: list[str] = []

    def settled():  # every hang-up counted, or a traceback printed
        seen.append(capfd.readouterr().err)
        return getattr(fake.server, "disconnects", 0) == 3 or "Traceback" in "".join(seen)

    wait_until(settled)
    with urllib.request.urlopen(fake.url + "/ok", timeout=5) as response:  # still serving
        assert response.status == 200
    err = "".join(seen) + capfd.readouterr().err
    assert "Traceback" not in err and "ConnectionResetError" not in err
    assert fake.server.disconnects == 3


def test_any_other_error_in_a_fake_is_still_printed(fake, capfd):
    with pytest.raises((urllib.error.URLError, ConnectionError)):
        urllib.request.urlopen(fake.url + "/bug", timeout=5)
    seen = []
    assert wait_until(lambda: seen.append(capfd.readouterr().err) or "ValueError: a bug in the fake" in "".join(seen))
    assert "Traceback" in "".join(seen) and fake.server.disconnects == 0
