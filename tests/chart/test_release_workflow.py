"""The release workflow (untested here: no runner) publishes only what passed `make test`."""

from __future__ import annotations

from pathlib import Path

import yaml

WORKFLOW = Path(__file__).resolve().parents[2] / ".github" / "workflows" / "release.yml"


def test_publishing_waits_for_the_whole_suite_on_the_tagged_commit():
    jobs = yaml.safe_load(WORKFLOW.read_text())["jobs"]
    publish, runs = jobs["publish"], {}
    needs = publish.get("needs", [])
    needs = [needs] if isinstance(needs, str) else needs
    assert needs, "publish must wait for a test job"
    for name in needs:
        runs[name] = [step.get("run", "") for step in jobs[name]["steps"]]
    assert any(line.split()[:2] == ["make", "test"] for steps in runs.values() for line in steps), runs
    assert any("system-packages" in line for steps in runs.values() for line in steps), runs
    # the gate is a job publish depends on, run on the tagged commit
    assert "actions/checkout@v4" in [step.get("uses") for step in jobs[needs[0]]["steps"]]
