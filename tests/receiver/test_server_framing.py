"""receiver/server/framing.py: where a request ends, fed one byte at a time as a slow client would."""

from __future__ import annotations

import pytest

from receiver.server.framing import MORE, READY, Arrival

HEAD = b"POST /webhooks/github HTTP/1.1\r\nHost: x\r\n"


def feed_bytewise(data: bytes, limit: int = 1000) -> tuple[Arrival, int | None]:
    """The arrival and the index of the byte that made it READY (None: still MORE)."""
    arrival = Arrival(limit, deadline=0.0)
    for i in range(len(data)):
        if arrival.feed(data[i : i + 1]) is READY:
            return arrival, i
    return arrival, None


@pytest.mark.parametrize(
    "request_bytes",
    [
        HEAD + b"Content-Length: 5\r\n\r\nhello",
        HEAD + b"\r\n",  # no body
        HEAD + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        HEAD + b"Transfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\nX-T: 1\r\n\r\n",
        HEAD + b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    ],
)
def test_complete_exactly_at_its_last_byte(request_bytes):
    arrival, at = feed_bytewise(request_bytes)
    assert at == len(request_bytes) - 1
    assert arrival.take() == request_bytes and arrival.path == "/webhooks/github"


@pytest.mark.parametrize(
    "request_bytes,why",
    [
        (HEAD + b"Content-Length: 5000\r\n\r\n", "over the limit: 413 unread"),
        (HEAD + b"Content-Length: 5\r\nContent-Length: 6\r\n\r\n", "two lengths"),
        (HEAD + b"Content-Length: -1\r\n\r\n", "not a length"),
        (HEAD + b"Transfer-Encoding: gzip\r\n\r\n", "a coding gunicorn refuses"),
        (HEAD + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n", "a chunk size that is not hex"),
        (HEAD + b"Transfer-Encoding: chunked\r\n\r\n3\r\nabcde", "a chunk longer than its size"),
        (HEAD + b"Transfer-Encoding: chunked\r\n\r\n3e9\r\n", "chunks over the limit"),
    ],
)
def test_what_cannot_be_framed_or_accepted_goes_on_at_once(request_bytes, why):
    assert feed_bytewise(request_bytes)[1] == len(request_bytes) - 1, why


def test_a_header_block_never_ends_is_handed_over_at_the_cap():
    arrival = Arrival(1000, 0.0)
    assert arrival.feed(HEAD + b"X: " + b"a" * 10_000) is MORE
    assert arrival.feed(b"a" * 60_000) is READY


def test_expect_continue_is_noticed_once_the_headers_are_in():
    arrival = Arrival(1000, 0.0)
    assert arrival.feed(HEAD + b"Expect: 100-continue\r\nContent-Length: 3\r\n\r\n") is MORE
    assert arrival.expects_continue and arrival.feed(b"abc") is READY
