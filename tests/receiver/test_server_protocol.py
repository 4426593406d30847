"""HTTP protocol abuse against the real gunicorn and worker (a body left unread, slow
clients, oversize and malformed requests, chunked framing; graceful shutdown): every such
request gets a JSON 4xx and is counted, slow clients cost no thread, and SIGTERM cuts no
delivery off."""

from __future__ import annotations

import http.client
import json
import signal
import socket
import time
import uuid

import pytest

from tests.conftest import GITHUB, github_headers
from tests.support.servers import start_gunicorn, stop

BODY = (GITHUB / "pull_request/opened.payload.json").read_bytes()
LIMIT = 100_000


def config(tmp_path, deadline: int) -> str:
    path = tmp_path / f"orgpulse-{deadline}.json"
    path.write_text(json.dumps({"receiver": {"request_deadline_seconds": deadline}}))
    return str(path)


@pytest.fixture(scope="module")
def server(tmp_path_factory, request):
    """A receiver whose requests must arrive within 2 s."""
    from tests.support.dogstatsd import udp_listener

    tmp = tmp_path_factory.mktemp("protocol")
    statsd = udp_listener()
    host, port = statsd.address
    env = {
        "DD_DOGSTATSD_URL": f"udp://{host}:{port}",
        "GITHUB_WEBHOOK_SECRET": "It's a Secret to Everybody",
        "ORGPULSE_MAX_BODY_BYTES": str(LIMIT),
        "ORGPULSE_DATA_DIR": str(tmp / "data"),
        "ORGPULSE_CONFIG": config(tmp, 2),
    }
    proc, url = start_gunicorn(env, tmp)
    yield url.removeprefix("http://").split(":")[0], int(url.rsplit(":", 1)[1]), statsd
    stop(proc)
    statsd.close()


OPEN: list[socket.socket] = []


def connect(server) -> socket.socket:
    """A connection closed at the end of the test (the server lingers on an open one)."""
    sock = socket.create_connection(server[:2], timeout=5)
    OPEN.append(sock)
    return sock


@pytest.fixture(autouse=True)
def close_connections():
    yield
    while OPEN:
        OPEN.pop().close()


def head(headers: dict, length: int | None = None, path="/webhooks/github") -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: test"]
    lines += [f"{k}: {v}" for k, v in headers.items() if k != "Content-Length"]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def answer(sock: socket.socket) -> tuple[int, dict, dict]:
    """(status, headers, JSON body) of the next response on `sock`."""
    reply = http.client.HTTPResponse(sock)
    reply.begin()
    body = json.loads(reply.read())
    return reply.status, {k.lower(): v for k, v in reply.getheaders()}, body


def response(sock: socket.socket) -> tuple[int, dict, dict, bytes]:
    """answer(), and what followed it on the connection until it closed."""
    status, headers, body = answer(sock)
    try:
        rest = sock.recv(100)
    except OSError:
        rest = b"<reset>"
    return status, headers, body, rest


def rejected(server, reason: str, wait_for: int = 1) -> list[dict]:
    """The tags of rejected{reason} lines, once `wait_for` of them arrived (the emitter
    flushes every 0.3 s) or after 3 s."""
    deadline = time.monotonic() + 3
    while True:
        lines = server[2].metrics("orgpulse.receiver.rejected")
        found = [x.tag_map for x in lines if x.tag_map["reason"] == reason]
        if len(found) >= wait_for or time.monotonic() > deadline:
            return found
        time.sleep(0.02)


def test_413_from_content_length_says_close_and_closes(server):
    sock = connect(server)
    sock.sendall(head(github_headers(b"x", "push"), LIMIT + 1) + b"x" * 1000)
    status, headers, body, rest = response(sock)
    assert (status, body, headers["connection"]) == (413, {"result": "too_large"}, "close")
    assert rest == b""  # closed, as announced: no next request is lost on it


def test_a_body_shorter_than_its_content_length_is_400(server):
    sock = connect(server)
    # Signed for the short body the sender really sent, then half-closed.
    sock.sendall(head(github_headers(BODY, "pull_request"), len(BODY) + 500) + BODY)
    sock.shutdown(socket.SHUT_WR)
    status, headers, body, _ = response(sock)
    assert (status, body["result"], headers["connection"]) == (400, "malformed", "close")


@pytest.mark.parametrize(
    "chunks",
    [
        b"zz\r\nxx\r\n0\r\n\r\n",  # a chunk size that is not hex
        b"5\r\nabc",  # no final chunk, then half-close
        b"3\r\nabcde\r\n0\r\n\r\n",  # a chunk longer than its size
    ],
)
def test_malformed_chunked_framing_is_a_counted_400(server, chunks):
    sock = connect(server)
    headers = {**github_headers(b"abc", "push"), "Transfer-Encoding": "chunked"}
    sock.sendall(head(headers) + chunks)
    sock.shutdown(socket.SHUT_WR)
    status, _, body, _ = response(sock)
    assert (status, body["result"]) == (400, "malformed")
    assert rejected(server, "malformed")


def test_a_request_not_complete_in_time_gets_408_and_is_closed(server):
    partial_head, partial_body = connect(server), connect(server)
    partial_head.sendall(b"POST /webhooks/github HTTP/1.1\r\nHost: te")
    partial_body.sendall(head(github_headers(BODY, "pull_request"), len(BODY)) + BODY[:100])
    for sock in (partial_head, partial_body):
        status, headers, body, rest = response(sock)
        assert (status, body, headers["connection"], rest) == (408, {"result": "timeout"}, "close", b"")
    assert sorted(x["source"] for x in rejected(server, "timeout", 2)) == ["github", "unknown"]


def test_slow_clients_hold_no_thread(server):
    """32 connections that never finish their request (4× the threads) do not delay a
    delivery: with plain gthread each held a thread and this one waited for them."""
    slow = [connect(server) for _ in range(32)]
    for i, sock in enumerate(slow):
        sock.sendall(head(github_headers(BODY, "pull_request"), len(BODY))[: 40 + i])
    conn = http.client.HTTPConnection(*server[:2], timeout=1.5)  # < the 2 s deadline
    conn.request("POST", "/webhooks/github", BODY, github_headers(BODY, "pull_request"))
    reply = conn.getresponse()
    assert (reply.status, json.loads(reply.read())["result"]) == (200, "accepted")
    for sock in slow:
        sock.close()


def raw_responses(sock: socket.socket, count: int) -> list[tuple[int, dict, dict]]:
    """`count` responses read from one byte stream (http.client's reader may read past the
    first response and drop the rest: it never expects pipelined answers)."""
    data, out = b"", []
    while len(out) < count:
        while b"\r\n\r\n" not in data:
            data += sock.recv(65536) or b""
        head, data = data.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:])}
        while len(data) < int(headers["content-length"]):
            data += sock.recv(65536)
        body, data = data[: int(headers["content-length"])], data[int(headers["content-length"]) :]
        out.append((int(lines[0].split()[1]), headers, json.loads(body)))
    return out


def test_pipelined_and_keep_alive_requests_are_all_answered(server):
    sock = connect(server)
    first, second = (head(github_headers(BODY, "pull_request"), len(BODY)) + BODY for _ in range(2))
    sock.sendall(first + second)  # two requests in one write
    answers = raw_responses(sock, 2)
    assert [(status, body["result"]) for status, _, body in answers] == [(200, "accepted")] * 2
    assert answers[0][1]["connection"] == "keep-alive"
    sock.sendall(first.replace(b"X-GitHub-Delivery: ", b"X-GitHub-Delivery: again-"))
    assert raw_responses(sock, 1)[0][0] == 200  # and the connection still serves
    sock.close()


def test_sigterm_answers_every_delivery_in_flight(tmp_path):
    env = {
        "GITHUB_WEBHOOK_SECRET": "It's a Secret to Everybody",
        "ORGPULSE_SINK": "log",
        "ORGPULSE_DATA_DIR": str(tmp_path / "data"),
        "ORGPULSE_CONFIG": config(tmp_path, 10),
    }
    proc, url = start_gunicorn(env, tmp_path)
    address = ("127.0.0.1", int(url.rsplit(":", 1)[1]))
    requests = [head(github_headers(BODY, "pull_request", str(uuid.uuid4())), len(BODY)) + BODY for _ in range(10)]
    socks = [socket.create_connection(address, timeout=10) for _ in requests]
    for sock, data in zip(socks, requests, strict=True):
        sock.sendall(data[: len(data) // 2])  # half of each delivery is on its way
    kept = http.client.HTTPConnection(*address, timeout=10)  # an idle keep-alive one, too
    kept.request("GET", "/healthz")
    kept.getresponse().read()
    proc.send_signal(signal.SIGTERM)
    for sock, data in zip(socks, requests, strict=True):
        sock.sendall(data[len(data) // 2 :])
    answers = [answer(sock) for sock in socks]
    assert [(status, body["result"]) for status, _, body in answers] == [(200, "accepted")] * 10
    # A request on a kept-alive connection right after SIGTERM is answered too.
    kept.request("POST", "/webhooks/github", BODY, github_headers(BODY, "pull_request"))
    assert kept.getresponse().status == 200
    for sock in socks:
        sock.close()
    kept.close()
    out, err = stop(proc)
    assert proc.returncode == 0, err
    assert out.count("github.prs.opened:1|c|") == 11
