"""Optional capture of verified raw deliveries to JSONL, for replaying production traffic in tests.

Off by default (receiver.capture in ORGPULSE_CONFIG). Only deliveries that
passed verification are written, only the headers a source needs to be
replayed (never signatures or tokens), to a 0600 file that stops growing at
capture_max_bytes. `orgpulse replay` reads these files back and re-signs them.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Mapping
from pathlib import Path

import orjson

log = logging.getLogger("orgpulse.capture")


class Capture:
    def __init__(self, directory: Path, max_bytes: int):
        self.directory = directory
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._full_logged = False

    def path_for(self, source: str) -> Path:
        return self.directory / f"{source}.jsonl"

    def write(self, source: str, path: str, headers: Mapping[str, str], body: bytes) -> None:
        try:
            text = {"body": body.decode("utf-8")}
        except UnicodeDecodeError:
            return  # every supported source sends UTF-8 JSON; such a body was not handled
        line = (
            orjson.dumps(
                {
                    "received_at": time.time(),
                    "source": source,
                    "path": path,
                    "headers": {k.lower(): v for k, v in headers.items()},
                    **text,
                }
            )
            + b"\n"
        )
        with self._lock:
            target = self.path_for(source)
            size = target.stat().st_size if target.exists() else 0
            if size + len(line) > self.max_bytes:
                if not self._full_logged:
                    log.warning(
                        "capture file full; no longer capturing",
                        extra={"file": str(target), "max_bytes": self.max_bytes},
                    )
                    self._full_logged = True
                return
            self.directory.mkdir(parents=True, exist_ok=True)
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            with os.fdopen(fd, "ab") as handle:
                handle.write(line)
