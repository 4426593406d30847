"""orgpulse/statistics.py: the one nearest-rank percentile and the one rolling window that every
poller uses (GitHub, DORA, Asana, W&B and SkyPilot each had their own copy before)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orgpulse.statistics import before, percentile, within

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
WEEK = timedelta(days=7)


@pytest.mark.parametrize(
    "values,q,expected",
    [
        ([1, 2, 3, 4], 0.5, 2),
        ([1, 2, 3, 4], 0.9, 4),
        ([5], 0.99, 5),
        (list(range(1, 101)), 0.9, 90),
        ([4, 1, 3, 2], 0.5, 2),
        (list(range(1, 101)), 0.07, 7),
    ],
)
def test_nearest_rank(values, q, expected):
    assert percentile(values, q) == expected


@given(
    st.lists(st.integers(-(10**6), 10**6), min_size=1, max_size=200),
    st.sampled_from([0.01, 0.1, 0.25, 0.5, 0.7, 0.75, 0.9, 0.95, 0.99, 1.0]),
)
def test_the_percentile_is_the_smallest_value_with_q_of_the_values_at_or_below_it(values, q):
    """The definition itself, by brute force: always one of the values."""
    n = len(values)
    wanted = min(v for v in values if sum(x <= v for x in values) >= q * n - 1e-9)
    assert percentile(values, q) == wanted


def test_the_pollers_figures_are_unchanged_for_the_percentiles_they_send():
    """The four copies it replaces were the same expression, sorted(v)[max(0, ceil(q·n) − 1)]:
    for every percentile the pollers send (p50, p90, p99) the one implementation agrees with it.
    (It differs only where q·n is a whole number that binary floating point misses, e.g. p7
    of 100 values: 0.07 × 100 = 7.000000000000001, whose ceiling took the 8th value, not the 7th.)"""
    for n in range(1, 2001):
        values = list(range(n, 0, -1))
        for q in (0.5, 0.9, 0.99):
            assert percentile(values, q) == sorted(values)[max(0, math.ceil(q * n) - 1)], (n, q)
    assert sorted(range(1, 101))[math.ceil(0.07 * 100) - 1] == 8 and percentile(range(1, 101), 0.07) == 7


def test_no_percentile_of_nothing():
    with pytest.raises(ValueError):
        percentile([], 0.5)


@pytest.mark.parametrize(
    "moment, inside, gone",
    [
        (NOW - WEEK + timedelta(seconds=1), True, False),  # just inside
        (NOW - WEEK, False, True),  # exactly a week old: the old end is open
        (NOW - WEEK - timedelta(seconds=1), False, True),
        (NOW, True, False),  # now: the new end is closed
        (NOW + timedelta(seconds=30), False, False),  # read after `now`: the next cycle's, kept
        ("2026-11-20T00:00:00Z", True, False),  # ISO 8601, as the APIs send it
        ((NOW - timedelta(days=8)).timestamp(), False, True),  # Unix seconds (SkyPilot)
        (None, False, True),
        ("not a time", False, True),
        (True, False, True),
    ],
)
def test_within_a_window_that_ends_now_and_before_it(moment, inside, gone):
    assert within(moment, NOW, WEEK) is inside
    assert before(moment, NOW, WEEK) is gone


def test_how_the_two_window_copies_differed_and_which_rule_holds():
    """GitHub's copy (now − t <= span) counted a moment exactly `span` old and one after `now`;
    DORA's (now − span < t <= now) counted neither. DORA's is the rule: a 7-day window holds 7
    days, half-open as consecutive windows must be, and a record a cycle reads after its `now`
    (a merge while the cycle runs) waits for the next cycle, so the figures are a function of
    the records and `now` alone — the DORA scenario tests check exactly that, at several `now`s
    over one fixed history. (GitHub's copy also decided what the collector forgets: that is
    `before`, which never forgets a record after `now`.)"""
    github_copy = lambda t: NOW - t <= WEEK  # noqa: E731
    dora_copy = lambda t: NOW - WEEK < t <= NOW  # noqa: E731
    for moment in (NOW - WEEK, NOW + timedelta(seconds=5)):
        assert github_copy(moment) and not dora_copy(moment)
        assert within(moment, NOW, WEEK) is dora_copy(moment)
    assert not before(NOW + timedelta(seconds=5), NOW, WEEK)  # kept for the next cycle
