"""`receiver:` — The webhook receiver: capture, dedup, secret store, the HTTP worker's limits, the status page."""

from __future__ import annotations

import re

from orgpulse.options.option import Option
from orgpulse.validators import at_least as _at_least
from orgpulse.validators import is_ as _is
from orgpulse.validators import one_of as _one_of

SECTION: dict[str, Option] = {
    "capture": Option(
        False,
        _is(bool, "true or false"),
        doc=(
            "Append verified deliveries to `<data dir>/captures/<source>.jsonl` (0600; no signatures, "
            "tokens or handshake secrets), for `orgpulse replay`."
        ),
    ),
    "capture_max_bytes": Option(100 * 1024 * 1024, _at_least(0), doc=("A capture file stops growing at this size.")),
    # GitHub lets an operator redeliver for 3 days: remember ids that long.
    "dedup_ttl_seconds": Option(
        72 * 3600,
        _at_least(72 * 3600),
        doc=("How long a delivery id (for Asana and W&B, an identical body) is answered `duplicate`; at least 72 h."),
    ),
    # ~280 bytes an entry (bench/handlers.py): 100,000 entries ≈ 27 MiB of the worker.
    "dedup_max_entries": Option(
        100_000, _at_least(1000), doc=("Entries of the in-memory dedup cache (~280 bytes each).")
    ),
    "secret_store": Option(
        "file",
        _one_of("file", "kubernetes"),
        doc=(
            "Where Asana handshake secrets are kept: `file` (`<data dir>/webhook-secrets.json`) or "
            "`kubernetes` (one Secret every replica reads; needed with more than one replica)."
        ),
    ),
    "kubernetes_secret": Option(
        "orgpulse-webhook-secrets", _is(str, "a string"), doc=("The Secret of `secret_store: kubernetes`.")
    ),
    "kubernetes_namespace": Option("", _is(str, "a string"), doc=("That Secret's namespace; empty: the pod's own.")),
    "kubernetes_api_url": Option(
        "",
        _is(str, "a string"),
        doc=("The Kubernetes API for the secret store; empty: in-cluster (`KUBERNETES_SERVICE_HOST`)."),
    ),
    "kubernetes_token_file": Option(
        "/var/run/secrets/kubernetes.io/serviceaccount/token",
        _is(str, "a path"),
        doc=("The service account token the secret store authenticates with."),
    ),
    "kubernetes_ca_file": Option(
        "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt",
        _is(str, "a path"),
        doc=("The CA bundle that verifies the API server (used when the file exists)."),
    ),
    "dedup_backend": Option(
        "memory",
        _one_of("memory", "redis"),
        doc=("`memory` (one replica) or `redis` (claims shared by every replica; needs a Redis URL)."),
    ),
    "request_deadline_seconds": Option(
        10,
        _at_least(1),
        doc=(
            "A request (headers and body) not complete this long after its first byte is answered "
            "408 and closed (GitHub and Asana give up after 10 s anyway)."
        ),
    ),
    "buffer_budget_bytes": Option(
        64 * 1024 * 1024,
        _at_least(1024 * 1024),
        doc=(
            "Bytes of requests still arriving that the worker holds in memory; past it, requests "
            "are read by its threads."
        ),
    ),
    "redis_url": Option(
        "",
        lambda v: (
            None
            if isinstance(v, str) and (v == "" or v.startswith(("redis://", "rediss://", "unix://")))
            else f"must be redis://host:port/db, rediss://… or unix://…, got {v!r}"
        ),
        doc=(
            "`redis://host:port/db` (or `rediss://`, `unix://`) for the shared dedup and DORA's "
            "high-water marks. A URL with a password goes in `ORGPULSE_REDIS_URL_FILE`, which wins."
        ),
    ),
    "status_page": Option(
        None,
        lambda v: (
            None if v is None or isinstance(v, bool) else f"must be true, false or null (local mode only), got {v!r}"
        ),
        doc=(
            "`GET /status` and `/status.json`: `true`, `false`, or `null` = on only in local mode "
            "(the log sink). The page shows repository, project and namespace names."
        ),
    ),
    "public_url": Option(
        "",
        lambda v: (
            None
            if isinstance(v, str) and (v == "" or re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", v))
            else f"must be an http(s):// URL without query, got {v!r}"
        ),
        doc=(
            "The receiver's address as providers reach it (e.g. `https://hooks.example.com`): the "
            "status page shows the webhook URLs to paste from it. Empty: the address the page was "
            "asked on."
        ),
    ),
}
