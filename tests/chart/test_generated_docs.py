"""What the chart derives from elsewhere is up to date (chart/generate.py writes it), and every
value is documented: the `config` schema against orgpulse's options, chart/orgpulse/README.md's values table
against values.yaml's `## @param` lines, and every value with a `## @param`."""

from __future__ import annotations

import importlib.util
import json

import yaml

from tests.support.chart_render import CHART, ROOT

spec = importlib.util.spec_from_file_location("chart_generate", ROOT / "chart" / "generate.py")
generate = importlib.util.module_from_spec(spec)
spec.loader.exec_module(generate)
FIX = "run `.venv/bin/python chart/generate.py`"


def test_the_config_schema_is_orgpulses_own_option_schema():
    written = json.loads((CHART / "values.schema.json").read_text())["properties"]["config"]
    assert written == generate.config_schema(), FIX
    from orgpulse.options import SCHEMA

    for section, options in SCHEMA.items():  # every option is known to the chart, with a type
        assert set(written["properties"][section]["properties"]) == set(options)


def test_the_readme_values_table_is_generated_from_values_yaml():
    readme = (CHART / "README.md").read_text()
    assert readme == generate.readme_with_table(readme), FIX


def _leaves(node, prefix=""):
    if isinstance(node, dict) and node:
        for key, value in node.items():
            yield from _leaves(value, f"{prefix}{key}.")
    else:
        yield prefix[:-1]


def test_every_value_is_documented_and_every_param_exists():
    text = (CHART / "values.yaml").read_text()
    documented = {name for kind, name, _ in generate.params(text) if kind == "param"}
    values = yaml.safe_load(text)
    for leaf in _leaves(values):
        parts = leaf.split(".")
        assert any(".".join(parts[:i]) in documented for i in range(1, len(parts) + 1)), leaf
    for name in documented:
        generate.default_of(values, name)  # KeyError: a @param for a value that does not exist
    assert all(description for kind, _, description in generate.params(text) if kind == "param")
