"""Dedup memory is bounded and expires."""

from __future__ import annotations

from receiver.dedup import Dedup


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_claim_release_and_ttl_expiry():
    clock = Clock()
    dedup = Dedup(ttl_seconds=72 * 3600, maxsize=1000, clock=clock)
    assert dedup.claim("github:a") and not dedup.claim("github:a")
    dedup.release("github:a")
    assert dedup.claim("github:a")
    clock.now = 72 * 3600 - 1
    assert not dedup.claim("github:a")  # still remembered just before 72 h
    clock.now = 72 * 3600 + 1
    assert dedup.claim("github:a")  # forgotten after the TTL


def test_size_is_bounded_oldest_forgotten_first():
    dedup = Dedup(ttl_seconds=3600, maxsize=100, clock=Clock())
    for i in range(250):
        assert dedup.claim(f"k{i}")
    assert len(dedup) == 100
    assert dedup.claim("k0")  # evicted
    assert not dedup.claim("k249")  # recent, kept
