"""catalog.csv is well-formed, sorted, and every row is a usable Datadog metric definition.
(That every row is produced by some test is checked at session end, in conftest.py.)"""

from __future__ import annotations

import re

import pytest

from orgpulse import metrics as m

NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")


def test_rows_are_sorted_unique_and_named_by_convention():
    rows = m.catalog()
    names = list(rows)
    assert names == sorted(names)
    for row in rows.values():
        assert NAME.match(row.name), row.name
        assert row.description and row.source
        assert not row.tags & {
            "pr",
            "pr_number",
            "sha",
            "run_id",
            "job_id",
            "user",
            "email",
            "pod",
            "pod_name",
            "title",
            "branch",
        }, row.name
        if row.type == m.DISTRIBUTION:
            assert row.unit == "second", row.name


def test_parse_rejects_bad_rows():
    header = "name,type,unit,description,source,tags\n"
    with pytest.raises(m.CatalogError, match="unknown type"):
        m.parse_catalog(header + "a.b,histogram,,d,s,\n")
    with pytest.raises(m.CatalogError, match="declared twice"):
        m.parse_catalog(header + "a.b,count,,d,s,\na.b,count,,d,s,\n")


def test_the_session_end_check_survives_pytest_without_its_cache_plugin():
    """`-p no:cacheprovider` removes the --lf option the session-end check reads."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-q",
            "tests/kernel/test_catalog.py::test_parse_rejects_bad_rows",
        ],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0 and "1 passed" in result.stdout, result.stdout + result.stderr
    assert "AttributeError" not in result.stdout + result.stderr
