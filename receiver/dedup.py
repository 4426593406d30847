"""Delivery de-duplication: a redelivered webhook is acknowledged and emits nothing again.

Keys are claimed before handling and released if handling fails, so a delivery
that errored can be redelivered and counted then. A TTLCache keeps memory
bounded: entries expire after `ttl` seconds, and past `maxsize` the oldest go
first. Keys are stored as 64-bit digests to keep each entry small.
"""
from __future__ import annotations

import hashlib
import threading
import time

from cachetools import TTLCache


def digest(text: str | bytes) -> int:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big")


class Dedup:
    def __init__(self, ttl_seconds: float, maxsize: int, clock=time.monotonic):
        self._seen: TTLCache = TTLCache(maxsize=maxsize, ttl=ttl_seconds, timer=clock)
        self._lock = threading.Lock()

    def claim(self, key: str | bytes) -> bool:
        """True the first time `key` is seen within the TTL, False for a duplicate."""
        k = digest(key)
        with self._lock:
            if k in self._seen:
                return False
            self._seen[k] = True
            return True

    def release(self, key: str | bytes) -> None:
        with self._lock:
            self._seen.pop(digest(key), None)

    def __len__(self) -> int:
        return len(self._seen)
