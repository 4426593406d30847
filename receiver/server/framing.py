"""Where one HTTP/1.1 request ends, decided as its bytes arrive (receiver/server/worker.py).

Pure: Arrival.feed(bytes) says whether the request is complete yet. It reads only
framing — the request line's target, Content-Length or chunked Transfer-Encoding,
the chunk sizes — never headers' meaning. Anything it cannot frame (a bad chunk
size, two lengths, a header block over the limit) and a body over the size limit
are "ready" at once: gunicorn's parser and the app then refuse them with a 4xx,
counted, instead of the worker buffering a request that will be refused anyway.
"""

from __future__ import annotations

import re

MORE, READY = "more", "ready"
MAX_HEAD = 64 * 1024  # request line + headers; gunicorn's own limits are tighter
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,16}")


def _headers(head: bytes) -> dict[bytes, list[bytes]]:
    out: dict[bytes, list[bytes]] = {}
    for line in head.split(b"\r\n")[1:]:
        name, sep, value = line.partition(b":")
        if sep:
            out.setdefault(name.strip().lower(), []).append(value.strip())
    return out


class Arrival:
    """One request's bytes so far and where its body ends."""

    def __init__(self, limit: int, deadline: float):
        self.limit = limit  # largest body the receiver accepts
        self.deadline = deadline  # monotonic time it must have arrived by
        self.data = bytearray()
        self.head_end: int | None = None  # index just past the blank line
        self.path: str | None = None
        self.expects_continue = False
        self._length: int | None = None  # Content-Length
        self._chunked = False
        self._pos = 0  # chunked: where the next size line starts
        self._body = 0  # chunked: body bytes seen so far
        self.verdict = MORE

    def feed(self, data: bytes) -> str:
        self.data += data
        if self.verdict is MORE:
            self.verdict = self._frame()
        return self.verdict

    @property
    def started(self) -> bool:
        return bool(self.data)

    def _frame(self) -> str:
        if self.head_end is None:
            end = self.data.find(b"\r\n\r\n")
            if end < 0:
                return READY if len(self.data) > MAX_HEAD else MORE
            self.head_end = end + 4
            verdict = self._read_head(bytes(self.data[:end]))
            if verdict is READY:
                return READY
        if self._chunked:
            return self._chunks()
        body = len(self.data) - self.head_end
        return READY if body >= (self._length or 0) else MORE

    def _read_head(self, head: bytes) -> str | None:
        line = head.split(b"\r\n", 1)[0].split(b" ")
        self.path = line[1].decode("latin-1") if len(line) == 3 else None
        headers = _headers(head)
        lengths = headers.get(b"content-length", [])
        coding = b",".join(headers.get(b"transfer-encoding", [])).lower()
        self.expects_continue = b"100-continue" in b",".join(headers.get(b"expect", [])).lower()
        if coding:
            self._chunked = coding.replace(b" ", b"") == b"chunked" and not lengths
            self._pos = len(head) + 4  # the body starts just past the head's blank line
            return None if self._chunked else READY  # anything else: the parser refuses it
        if len(lengths) > 1 or (lengths and not lengths[0].isdigit()):
            return READY
        self._length = int(lengths[0]) if lengths else 0
        return READY if self._length > self.limit else None  # 413 without reading it

    def _chunks(self) -> str:
        while True:
            eol = self.data.find(b"\r\n", self._pos)
            if eol < 0:
                return READY if len(self.data) - self._pos > 1024 else MORE
            size_text = bytes(self.data[self._pos : eol]).split(b";", 1)[0].strip()
            if not _CHUNK_SIZE.fullmatch(size_text):
                return READY  # malformed framing: the parser raises, the app says 400
            size = int(size_text, 16)
            if size == 0:  # the last chunk, then trailers (usually none) and a blank line
                done = self.data.find(b"\r\n\r\n", eol) >= 0
                return READY if done or len(self.data) - eol > MAX_HEAD else MORE
            self._body += size
            if self._body > self.limit:
                return READY  # the app reads limit + 1 bytes and answers 413
            end = eol + 2 + size
            if len(self.data) < end + 2:
                return MORE
            if self.data[end : end + 2] != b"\r\n":
                return READY
            self._pos = end + 2

    def take(self) -> bytes:
        data = bytes(self.data)
        self.data = bytearray()
        return data
