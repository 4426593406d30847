"""Property-based fuzzing over mutations of the real stored payloads of every source
(what hostile or broken senders send): types swapped, keys dropped, values nested, numbers out of range, unicode —
correctly signed, so they reach the handlers. For every one: never a 5xx, a refused
delivery emits no source metric, every metric passes the catalog (the emitter is strict:
a breach raises), no tag value outside its bound.

`make test` runs the "ci" profile (tests/conftest.py: 1,000 examples per source);
`make fuzz` the "fuzz" profile (20,000 per source)."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.fuzzing import KINDS, SWAPS, apply, asana_corpus, fuzz_options, github_corpus, problems, wandb_corpus
from tests.support.inprocess import Receiver

GITHUB = [(event, orjson.dumps(payload)) for event, payload, _ in github_corpus()]
HANDLED = [(event, body) for (event, body), (_, _, handled) in zip(GITHUB, github_corpus(), strict=True) if handled]
ASANA = [orjson.dumps(x) for x in asana_corpus()]
WANDB = [orjson.dumps(x) for x in wandb_corpus()]

VALUES = st.one_of(
    st.sampled_from(SWAPS),
    st.text(st.characters(exclude_categories=("Cs",)), max_size=60),
    st.integers(-(2**63), 2**64 - 1),
    st.floats(allow_nan=False),
    st.lists(st.integers(-(2**63), 2**63 - 1), max_size=3),
)
OPS = st.lists(st.tuples(st.sampled_from(KINDS), st.integers(0, 10**6), VALUES), min_size=1, max_size=4)
SLOW_OK = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.fixture(scope="module")
def rx(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fuzz")
    return Receiver(tmp / "data", {**fuzz_options(tmp), "ORGPULSE_LOG_LEVEL": "WARNING"})


@pytest.fixture(scope="module")
def seen():
    return {}


@SLOW_OK
@given(
    case=st.one_of(st.sampled_from(HANDLED), st.sampled_from(GITHUB)),
    ops=OPS,
    renamed=st.one_of(st.none(), st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=40)),
)
def test_github_mutations(rx, seen, case, ops, renamed):
    event, body = case
    response = rx.github(apply(orjson.loads(body), ops), renamed if renamed else event)
    assert problems(response.status_code, rx.lines(), seen) == []


@SLOW_OK
@given(body=st.sampled_from(ASANA), ops=OPS)
def test_asana_mutations(rx, seen, body, ops):
    response = rx.asana(apply(orjson.loads(body), ops))
    assert problems(response.status_code, rx.lines(), seen) == []


@SLOW_OK
@given(body=st.sampled_from(WANDB), ops=OPS)
def test_wandb_mutations(rx, seen, body, ops):
    response = rx.wandb(apply(orjson.loads(body), ops))
    assert problems(response.status_code, rx.lines(), seen) == []
