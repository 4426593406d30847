"""The documentation holds what the code says: the generated reference pages are current, every
option and environment variable is documented, the production example loads, the site builds in
strict mode (a broken link or anchor fails), and nothing points outside the repository."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

from orgpulse import config
from orgpulse.environment import VARIABLES
from orgpulse.options import SCHEMA

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
EXAMPLE = DOCS / "production" / "orgpulse.example.yaml"
spec = importlib.util.spec_from_file_location("docs_generate", DOCS / "generate.py")
generate = importlib.util.module_from_spec(spec)
spec.loader.exec_module(generate)


def written_by_us() -> list[Path]:
    """The project's own prose: README, bench/README and docs/ (docs/chart is the chart's
    README, linked in; it has its own tests)."""
    pages = [p for p in DOCS.rglob("*") if p.suffix in (".md", ".yaml") and "chart" not in p.relative_to(DOCS).parts]
    return [ROOT / "README.md", ROOT / "bench" / "README.md", ROOT / "mkdocs.yml", *pages]


def test_the_generated_reference_pages_are_current():
    for path, text in generate.pages().items():
        assert path.read_text(encoding="utf-8") == text, (
            f"{path.relative_to(ROOT)} is out of date: run `.venv/bin/python docs/generate.py`"
        )


def test_every_catalog_row_is_in_the_metrics_reference():
    from orgpulse.metrics import catalog

    page = (DOCS / "reference" / "metrics.md").read_text(encoding="utf-8")
    assert [name for name in catalog() if f"| `{name}` |" not in page] == []


def test_every_option_says_what_it_means():
    missing = [
        f"{section}.{key}"
        for section, options in SCHEMA.items()
        for key, option in options.items()
        if len(option.doc.strip()) < 10
    ]
    assert missing == [], "give each Option a doc= (orgpulse/options/)"


class Recording(dict):
    """An environment that remembers every name config.load asks it for."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.asked: set[str] = set()

    def get(self, key, default=None):
        self.asked.add(key)
        return super().get(key, default)

    def __getitem__(self, key):
        self.asked.add(key)
        return super().__getitem__(key)


def test_the_environment_table_is_what_config_reads(tmp_path):
    """orgpulse/environment.py lists exactly the variables config.load reads, and a variable
    is marked secret exactly when its <NAME>_FILE form is read too."""
    asked: set[str] = set()
    for extra in ({}, {"DD_DOGSTATSD_URL": "udp://127.0.0.1:8125"}):
        env = Recording({"ORGPULSE_DATA_DIR": str(tmp_path), **extra})
        config.load(env)
        asked |= env.asked
    secret = {name[: -len("_FILE")] for name in asked if name.endswith("_FILE")}
    read = asked - {f"{name}_FILE" for name in secret}
    ours = {v.name: v for v in VARIABLES if v.reader == "orgpulse"}
    assert set(ours) == read, "orgpulse/environment.py and orgpulse/config.py disagree"
    assert {name for name, v in ours.items() if v.secret} == secret
    assert all(len(v.doc) >= 10 for v in VARIABLES)


def test_the_production_example_loads_and_names_every_section(tmp_path):
    raw = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    assert set(raw) == set(SCHEMA), "the example names every section of the schema, and no other"
    settings = config.load(
        {
            "ORGPULSE_CONFIG": str(EXAMPLE),
            "ORGPULSE_DATA_DIR": str(tmp_path),
            # its Redis dedup takes the URL from a secret, as production does
            "ORGPULSE_REDIS_URL": "redis://:password@redis.example:6379/0",
        }
    )
    assert settings.section("github")["repositories"] == raw["github"]["repositories"]
    assert all(raw[section] for section in SCHEMA), "no section of the example is empty"


def test_the_site_builds_in_strict_mode(tmp_path):
    """A broken link, a missing anchor, a page not in the navigation or a missing include is
    an error (mkdocs.yml: validation, strict). Never --quiet: it hides the warnings from the
    count that strict mode fails on, and the build passes with broken links."""
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    example = (tmp_path / "site" / "production" / "example" / "index.html").read_text()
    assert "acme-robotics/trainer" in example  # the example file itself, included


def test_the_readme_is_short_and_its_links_resolve():
    for readme in (ROOT / "README.md", ROOT / "bench" / "README.md"):
        text = readme.read_text(encoding="utf-8")
        targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
        broken = [t for t in targets if "://" not in t and not (readme.parent / t).exists()]
        assert broken == [], f"{readme.relative_to(ROOT)}: {broken}"
    assert len((ROOT / "README.md").read_text(encoding="utf-8").splitlines()) <= 300


OUTSIDE = re.compile(r"DESIGN\.md|seed-system|\bissue \d+|\b[WR]\d{1,2}\b|§")


def test_nothing_points_to_a_document_outside_the_repository():
    found = [
        f"{path.relative_to(ROOT)}:{n}: {line.strip()[:80]}"
        for path in written_by_us()
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if OUTSIDE.search(line)
    ]
    assert found == []
