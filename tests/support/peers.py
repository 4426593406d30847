"""Real peer servers for the `peers`-marked tests: where they are, and a clear
failure (never a silent skip) with the command that installs a missing one."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PEERS = ROOT / ".peers"
SYSTEM_INSTALL = "sudo make system-packages   (make test does it first when it can)"
PEERS_INSTALL = "make peers   (make test runs it first)"


def require_executable(name: str, install: str = SYSTEM_INSTALL) -> str:
    """The path of a system executable, or fail the test saying how to install it."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: run `{install}`", pytrace=False)
    return path


def require_peer(relative: str, install: str = PEERS_INSTALL) -> Path:
    """A file under .peers/ (Prism, the Datadog spec, the SkyPilot venv), or fail saying how."""
    path = PEERS / relative
    if not path.exists():
        pytest.fail(f"{path} is missing: run `{install}`", pytrace=False)
    return path
