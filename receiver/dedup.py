"""Delivery de-duplication: a redelivered webhook is acknowledged and emits nothing again.

Keys are claimed before handling and released if handling fails, so a delivery
that errored can be redelivered and counted then.

- Dedup (memory, one replica): a TTLCache keeps memory bounded: entries expire
  after `ttl` seconds, and past `maxsize` the oldest go first. Keys are stored as
  64-bit digests to keep each entry small.
- SharedDedup (redis, replicas > 1): the same claim/release with the same TTL,
  made atomic across replicas by Redis `SET key 1 NX EX ttl` — a GitHub redelivery
  or an Asana retry that lands on another replica is a duplicate there too. The
  local store stays in front (duplicates on this replica cost no round trip) and
  is the fallback: when Redis fails or is slow (a short socket timeout, no client
  retries) the delivery is deduplicated by this replica alone, counted by
  `on_fallback(reason)`, and Redis is left alone for RETRY_AFTER seconds so an
  outage costs one bounded wait, not one per delivery. Never an error to the sender.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable

from cachetools import TTLCache

RETRY_AFTER = 5.0  # seconds a failed Redis is skipped before it is tried again
PREFIX = b"orgpulse:dedup:"
UNAVAILABLE = object()  # what _call returns when Redis could not answer


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


def redis_key(key: str | bytes) -> bytes:
    data = key.encode("utf-8") if isinstance(key, str) else key
    return PREFIX + hashlib.blake2b(data, digest_size=16).hexdigest().encode()


class SharedDedup:
    def __init__(
        self,
        client,
        local: Dedup,
        ttl_seconds: float,
        on_fallback: Callable[[str], None],
        clock=time.monotonic,
        retry_after: float = RETRY_AFTER,
    ):
        import redis  # configured only with a Redis URL

        self.client = client
        self.local = local
        self.ttl = max(1, int(ttl_seconds))
        self.on_fallback = on_fallback
        self.clock = clock
        self.retry_after = retry_after
        self._timeouts = (redis.TimeoutError, TimeoutError)
        self._down_until = float("-inf")

    def _call(self, method: str, *args, **kwargs):
        """The Redis call's answer, or UNAVAILABLE after counting why it could not be made."""
        if self.clock() < self._down_until:
            self.on_fallback("skipped")
            return UNAVAILABLE
        try:
            return getattr(self.client, method)(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - dedup must never fail a delivery
            self._down_until = self.clock() + self.retry_after
            self.on_fallback("timeout" if isinstance(exc, self._timeouts) else "error")
            return UNAVAILABLE

    def claim(self, key: str | bytes) -> bool:
        if not self.local.claim(key):
            return False  # handled (or being handled) by this replica
        claimed = self._call("set", redis_key(key), b"1", nx=True, ex=self.ttl)
        if claimed is UNAVAILABLE or claimed:  # SET NX answers True, or None if it was set
            return True  # new everywhere, or Redis unavailable: this replica decides
        # Another replica holds it. Forget it here, so that if that replica's
        # handler fails (and releases it) a redelivery to this one is handled.
        self.local.release(key)
        return False

    def release(self, key: str | bytes) -> None:
        self.local.release(key)
        if self.clock() >= self._down_until:  # a delivery already counted as a fallback
            self._call("delete", redis_key(key))

    def __len__(self) -> int:
        return len(self.local)
