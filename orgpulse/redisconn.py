"""The one way to reach Redis (shared dedup, high-water marks): short timeouts, so an
outage or a slow server costs a bounded wait and a counted error, never a stall."""

from __future__ import annotations

from typing import TYPE_CHECKING

from orgpulse.config import Settings

if TYPE_CHECKING:  # redis is imported only when configured (below)
    from redis import Redis


def client(settings: Settings, timeout_seconds: float = 0.25) -> Redis | None:
    """A redis.Redis for settings.redis_url, or None when no Redis is configured."""
    if settings.redis_url is None:
        return None
    import redis  # only when configured: the receiver's cold start never pays for it
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    # No retries: the client's default (10, with backoff) would turn one outage into
    # seconds per call; callers fall back and count instead.
    return redis.Redis.from_url(
        settings.redis_url.reveal().decode(),
        socket_timeout=timeout_seconds,
        socket_connect_timeout=timeout_seconds,
        retry=Retry(NoBackoff(), 0),
        health_check_interval=30,
    )
