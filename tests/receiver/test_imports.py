"""The receiver process stays light and within its layer: it loads none of the poller's client
libraries, and no module of pollers/ or dashboards/ — even with settings that name monitors'
thresholds (checked by `orgpulse dashboards`, not at the receiver's start)."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.support.servers import ROOT, clean_env


def _loaded(code: str, env: dict | None = None) -> list[str]:
    """What `code` (a Python process that builds the receiver's app) prints."""
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=clean_env({"PYTHONPATH": str(ROOT), **(env or {})}),
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_receiver_imports_no_poller_only_library():
    code = (
        "import json, sys; from receiver import create_app; from orgpulse import config; "
        "create_app(config.load({'GITHUB_WEBHOOK_SECRET': 'x'})); "
        "heavy = {'wandb', 'sky', 'kubernetes', 'boto3', 'botocore', 'github', 'asana', "
        "'datadog_api_client'} & {m.split('.')[0] for m in sys.modules}; print(json.dumps(sorted(heavy)))"
    )
    assert _loaded(code) == []


def test_the_receiver_process_loads_no_module_of_pollers_or_dashboards(tmp_path):
    config = tmp_path / "orgpulse.yaml"
    config.write_text(
        json.dumps(
            {
                "monitors": {
                    "thresholds": {"pr_cycle_time_p90_hours": 60},
                    "environments": {"production": {"thresholds": {"burn_rate_critical": 20}}},
                },
                "fom": {"formulas": {"ci.failing_workflows": {"limit": 8}}},
            }
        )
    )
    code = (
        "import json, sys; from receiver import create_app; from orgpulse import config; "
        "settings = config.load(); app = create_app(settings); "
        "assert settings.section('monitors')['thresholds'] == {'pr_cycle_time_p90_hours': 60}; "
        "assert app.test_client().get('/status.json').status_code == 200; "
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('pollers', 'dashboards', 'fom'))))"
    )
    loaded = _loaded(
        code,
        {"GITHUB_WEBHOOK_SECRET": "x", "ORGPULSE_CONFIG": str(config), "ORGPULSE_DATA_DIR": str(tmp_path / "data")},
    )
    assert [m for m in loaded if not m.startswith("fom")] == []
    assert "fom.scores" in loaded  # the status page's grid, and fom.formulas' check: allowed below


def test_the_serve_command_loads_only_the_receivers_package():
    """`orgpulse serve` runs the receiver in the CLI's own process: building its command line
    loads receiver/cli.py through the entry point, and nothing of pollers/ or dashboards/."""
    code = (
        "import json, sys; from orgpulse.cli import parser; "
        "args = parser(['serve', '--port', '1']).parse_args(['serve', '--port', '1']); "
        "assert args.run.__module__ == 'receiver.cli'; "
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('pollers', 'dashboards'))))"
    )
    assert _loaded(code) == []
    every = (
        "import json, sys; from orgpulse.cli import parser; parser(); "
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} & {'pollers', 'dashboards'})))"
    )
    assert _loaded(every) == ["dashboards", "pollers"]  # --help: every command, so the check above can fail
