"""The one place that sends metrics: the `datadog` package's DogStatsd client, or a log sink.

Every part hands its [Metric] to Emitter.emit(). The emitter checks each metric
against the catalog (a bad one is a bug: raised in strict mode, which tests use,
dropped with an error log and counted in production), then sends the batch.
Sending never raises: DogStatsD is fire-and-forget, and an absent Agent must
not fail a webhook delivery.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterable
from typing import Protocol, TextIO

from datadog.dogstatsd import DogStatsd

from orgpulse import metrics as m
from orgpulse.config import Settings

log = logging.getLogger("orgpulse.emit")

_TYPE_CODE = {m.COUNT: "c", m.GAUGE: "g", m.DISTRIBUTION: "d"}


class InvalidMetric(ValueError):
    pass


class Sink(Protocol):
    def send(self, batch: list[m.Metric]) -> None: ...
    def flush(self) -> None: ...
    def close(self) -> None: ...


def _tag_list(metric: m.Metric) -> list[str]:
    return [f"{k}:{v}" for k, v in metric.tags]


def datagram(metric: m.Metric, constant_tags: Iterable[str] = ()) -> str:
    """The DogStatsD line for one metric, as the Agent would receive it."""
    value = int(metric.value) if metric.value.is_integer() else metric.value
    tags = list(constant_tags) + _tag_list(metric)
    line = f"{metric.name}:{value}|{_TYPE_CODE[metric.type]}"
    return f"{line}|#{','.join(tags)}" if tags else line


class DogStatsdSink:
    """DogStatsd over UDP or UDS, with the client's buffering on: metrics are
    packed into full datagrams and flushed by the client's thread every
    FLUSH_SECONDS. Measured in bench/receiver.py, this beat a send per delivery
    (whose batch lock serialised gunicorn's threads) at a cost of <= 0.3 s of
    delay. The client's at-fork hooks keep it safe under gunicorn, and its
    telemetry (datadog.dogstatsd.client.*) reports drops."""

    FLUSH_SECONDS = 0.3

    def __init__(self, settings: Settings):
        target = settings.dogstatsd
        self.client = DogStatsd(
            host=target.host,
            port=target.port,
            socket_path=target.socket_path,
            constant_tags=list(settings.constant_tags),
            disable_telemetry=False,
            disable_buffering=False,
            flush_interval=self.FLUSH_SECONDS,
        )
        # The client also folds DD_ENV/DD_SERVICE/DD_VERSION from os.environ into
        # its constant tags; config.py is the single reader of the environment,
        # so its tags replace the client's (no duplicated env tag).
        self.client.constant_tags = list(settings.constant_tags)
        self._send = {
            m.COUNT: self.client.increment,
            m.GAUGE: self.client.gauge,
            m.DISTRIBUTION: self.client.distribution,
        }

    def send(self, batch: list[m.Metric]) -> None:
        for metric in batch:
            self._send[metric.type](metric.name, metric.value, tags=_tag_list(metric))

    def flush(self) -> None:
        self.client.flush()

    def close(self) -> None:
        self.client.flush()
        self.client.close_socket()


class LogSink:
    """The embedded default: one DogStatsD line per metric on stdout, no Agent needed."""

    def __init__(self, settings: Settings, stream: TextIO | None = None):
        self.stream = stream or sys.stdout
        self.constant_tags = settings.constant_tags
        self._lock = threading.Lock()

    def send(self, batch: list[m.Metric]) -> None:
        text = "".join(datagram(metric, self.constant_tags) + "\n" for metric in batch)
        with self._lock:
            self.stream.write(text)
            self.stream.flush()

    def flush(self) -> None:
        self.stream.flush()

    close = flush


def build_sink(settings: Settings) -> Sink:
    return DogStatsdSink(settings) if settings.sink == "dogstatsd" else LogSink(settings)


class Emitter:
    def __init__(self, sink: Sink, strict: bool = False):
        self.sink = sink
        self.strict = strict

    def partition(self, batch: Iterable[m.Metric]) -> tuple[list[m.Metric], list[m.Metric]]:
        """(the metrics that keep the catalog contract, counters for those that break it)."""
        good: list[m.Metric] = []
        invalid: list[m.Metric] = []
        for metric in batch:
            reason = m.problem(metric)
            if reason is None:
                good.append(metric)
                continue
            if self.strict:
                raise InvalidMetric(f"{metric.name} {dict(metric.tags)}: {reason}")
            log.error("dropped metric that breaks the catalog", extra={"metric": metric.name, "reason": reason})
            invalid.append(m.count("orgpulse.metrics.invalid", reason=reason))
        return good, invalid

    def send(self, batch: list[m.Metric]) -> None:
        if not batch:
            return
        try:
            self.sink.send(batch)
        except Exception:
            log.exception("metric sink failed", extra={"metrics": len(batch)})

    def emit(self, batch: Iterable[m.Metric]) -> list[m.Metric]:
        """Send the valid metrics of `batch`; return what was sent."""
        good, invalid = self.partition(batch)
        self.send(good + invalid)
        return good

    def flush(self) -> None:
        """Send what the sink buffers now (tests, and before a process exits)."""
        self.sink.flush()

    def close(self) -> None:
        self.sink.close()
