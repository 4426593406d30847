"""Structured JSON log lines on stderr: one object per line, fields from `extra=`.

Callers pass ids, event names and outcomes — never bodies, headers or secrets;
the formatter additionally refuses to print any field whose name suggests a
secret, as a guard against a careless `extra=`.
"""

from __future__ import annotations

import functools
import logging
import sys
import time

import orjson

_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
_REDACT = ("secret", "token", "signature", "password", "authorization", "body")


@functools.lru_cache(maxsize=512)
def _redacted(key: str) -> bool:
    return any(word in key.lower() for word in _REDACT)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key in vars(record).keys() - _STANDARD:
            if not key.startswith("_"):
                out[key] = "***" if _redacted(key) else getattr(record, key)
        if record.exc_info:
            out["error"] = self.formatException(record.exc_info)
        return orjson.dumps(out, default=str).decode()


def setup(level: str = "INFO") -> None:
    """Route every orgpulse log line through the JSON formatter on stderr (idempotent)."""
    root = logging.getLogger()
    handler = next((h for h in root.handlers if isinstance(h.formatter, JsonFormatter)), None)
    if handler is None:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        root.addHandler(handler)
    root.setLevel(level)
