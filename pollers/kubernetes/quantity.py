"""Kubernetes resource quantities ("250m", "1.5Gi", "128974848", "12e6", "5713n") → numbers.

CPU comes out in cores, memory in bytes. The suffixes are Kubernetes' own:
binary Ki Mi Gi Ti Pi Ei, decimal n u m k M G T P E, and e-notation.
"""

from __future__ import annotations

import re

_SUFFIX = {
    "n": 1e-9,
    "u": 1e-6,
    "m": 1e-3,
    "": 1.0,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "P": 1e15,
    "E": 1e18,
    "Ki": 2.0**10,
    "Mi": 2.0**20,
    "Gi": 2.0**30,
    "Ti": 2.0**40,
    "Pi": 2.0**50,
    "Ei": 2.0**60,
}
_QUANTITY = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]?)$")


def parse_quantity(text: object) -> float:
    """The value of a quantity; raises ValueError for anything Kubernetes would reject."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return float(text)
    match = _QUANTITY.match(str(text).strip())
    if not match:
        raise ValueError(f"not a Kubernetes quantity: {text!r}")
    number, suffix = match.groups()
    return float(number) * _SUFFIX[suffix]
