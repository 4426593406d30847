"""Retries with exponential backoff and full jitter, honouring Retry-After.

Retried: HTTP 429 and 5xx, timeouts and connection errors. Not retried: other
4xx (the request itself is wrong; repeating it only burns rate limit).
Clients with their own retry machinery use it instead (boto3's "standard"
mode, urllib3's Retry in the asana client); this is for plain HTTP clients.
"""

from __future__ import annotations

import random
import socket
import time
import urllib.error
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def retry_after(exc: BaseException) -> float | None:
    headers = getattr(exc, "headers", None) or {}
    value = headers.get("Retry-After") if hasattr(headers, "get") else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def retryable(exc: BaseException) -> bool:
    status = getattr(exc, "code", None) or getattr(exc, "status", None)
    if isinstance(status, int):
        return status == 429 or status >= 500
    return isinstance(exc, (TimeoutError, socket.timeout, ConnectionError, urllib.error.URLError))


def call(
    fn: Callable[[], T],
    attempts: int = 5,
    base: float = 0.5,
    cap: float = 30.0,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    for attempt in range(1, attempts + 1):
        try:
            return fn()
        except Exception as exc:
            if attempt == attempts or not retryable(exc):
                raise
            wait = retry_after(exc)
            if wait is None:
                wait = random.uniform(0, min(cap, base * 2 ** (attempt - 1)))
            sleep(min(wait, cap))
    raise AssertionError("unreachable")
