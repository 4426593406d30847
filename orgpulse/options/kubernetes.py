"""`kubernetes:` — Kubernetes: the pod informer's namespaces and intervals."""

from __future__ import annotations

from orgpulse.options.option import Option
from orgpulse.validators import at_least as _at_least
from orgpulse.validators import is_ as _is
from orgpulse.validators import str_list as _str_list

SECTION: dict[str, Option] = {
    "namespaces": Option(
        [], _str_list, doc=("Namespaces the informer watches: `[]` = all (one watch), else one watch per namespace.")
    ),
    "label_selector": Option(
        "",
        _is(str, "a label selector"),
        doc=("Label selector of the pods watched (and of the metrics.k8s.io usage listed); empty: all."),
    ),
    "watch_timeout_seconds": Option(
        300,
        _at_least(10),
        doc=("The server ends each watch after this long; the informer resumes it (a `timeout` restart)."),
    ),
    "gauge_interval_seconds": Option(
        60, _at_least(5), doc=("How often the informer sends its gauges and writes its part of the state file.")
    ),
    "lease_enabled": Option(
        True,
        _is(bool, "true or false"),
        doc=("Leader election: every replica watches, only the holder of the Lease emits."),
    ),
    "lease_namespace": Option("", _is(str, "a namespace"), doc="The Lease's namespace; empty: the pod's own."),
    "lease_name": Option("orgpulse-leader", _is(str, "a name"), doc="The coordination.k8s.io Lease's name."),
    "lease_seconds": Option(
        15,
        _at_least(3),
        doc=("The Lease's duration; a holder that cannot renew stops emitting a second before it can be taken."),
    ),
    "renew_seconds": Option(5, _at_least(1), doc="How often the holder renews the Lease."),
}
