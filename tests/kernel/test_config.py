"""Settings from env, *_FILE secrets and the YAML file; every problem reported at once."""

from __future__ import annotations

import os
import stat

import pytest

from orgpulse import config


def load(env: dict, tmp_path) -> config.Settings:
    return config.load({"ORGPULSE_DATA_DIR": str(tmp_path / "data"), **env})


def test_embedded_default_is_the_log_sink(tmp_path):
    s = load({}, tmp_path)
    assert s.sink == "log" and s.max_body_bytes == 25 * 1024 * 1024
    assert s.constant_tags == ("service:orgpulse",)
    assert s.github_secrets == () and s.github_secret_origin == "unset"
    assert s.section("receiver")["dedup_ttl_seconds"] == 72 * 3600


@pytest.mark.parametrize(
    "env,target",
    [
        ({"DD_DOGSTATSD_URL": "udp://agent:9125"}, config.DogStatsdTarget("agent", 9125)),
        (
            {"DD_DOGSTATSD_URL": "unix:///var/run/datadog/dsd.socket"},
            config.DogStatsdTarget(socket_path="/var/run/datadog/dsd.socket"),
        ),
        ({"DD_AGENT_HOST": "10.0.0.1"}, config.DogStatsdTarget("10.0.0.1", 8125)),
        ({"DD_AGENT_HOST": "h", "DD_DOGSTATSD_PORT": "8200"}, config.DogStatsdTarget("h", 8200)),
        ({"DD_DOGSTATSD_URL": "udp://a:1", "DD_AGENT_HOST": "b"}, config.DogStatsdTarget("a", 1)),
        ({"ORGPULSE_SINK": "dogstatsd"}, config.DogStatsdTarget("localhost", 8125)),
    ],
)
def test_dogstatsd_target(env, target, tmp_path):
    s = load(env, tmp_path)
    assert s.sink == "dogstatsd" and s.dogstatsd == target


def test_log_sink_overrides_a_configured_agent(tmp_path):
    assert load({"DD_AGENT_HOST": "h", "ORGPULSE_SINK": "log"}, tmp_path).sink == "log"


def test_unified_service_tags(tmp_path):
    s = load({"DD_ENV": "staging", "DD_SERVICE": "op", "DD_VERSION": "1.2.3"}, tmp_path)
    assert s.constant_tags == ("env:staging", "service:op", "version:1.2.3")


def test_secret_from_file_and_comma_rotation(tmp_path):
    path = tmp_path / "gh"
    path.write_text("Zq9-new-secret , Zq9-old-secret\n")
    s = load({"GITHUB_WEBHOOK_SECRET_FILE": str(path)}, tmp_path)
    assert [x.reveal() for x in s.github_secrets] == [b"Zq9-new-secret", b"Zq9-old-secret"]
    assert "Zq9" not in repr(s)


def test_generated_secret_is_used_when_none_is_configured(tmp_path):
    path = config.ensure_github_secret(tmp_path / "data")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    s = load({}, tmp_path)
    assert s.github_secret_origin == "generated"
    assert s.github_secrets[0].reveal() == path.read_text().strip().encode()
    assert config.ensure_github_secret(tmp_path / "data") == path  # kept, not replaced
    assert load({"GITHUB_WEBHOOK_SECRET": "x"}, tmp_path).github_secret_origin == "env"


def test_every_problem_is_listed_at_once(tmp_path):
    bad_yaml = tmp_path / "c.yaml"
    bad_yaml.write_text(
        "github:\n  hotfix_pattern: '(['\n  repositories: [nope]\n"
        "receiver:\n  dedup_ttl_seconds: 60\n  captur: true\nmystery: {}\n"
    )
    with pytest.raises(config.ConfigError) as err:
        load(
            {
                "DD_DOGSTATSD_URL": "tcp://x",
                "ORGPULSE_SINK": "kafka",
                "ORGPULSE_MAX_BODY_BYTES": "-5",
                "GITHUB_WEBHOOK_SECRET": "a",
                "GITHUB_WEBHOOK_SECRET_FILE": "/x",
                "WANDB_WEBHOOK_TOKEN_FILE": "/nonexistent",
                "ORGPULSE_LOG_LEVEL": "loud",
                "ORGPULSE_CONFIG": str(bad_yaml),
            },
            tmp_path,
        )
    text = str(err.value)
    for expected in (
        "DD_DOGSTATSD_URL must be udp://host:port or unix:///path",
        "ORGPULSE_SINK must be one of",
        "ORGPULSE_MAX_BODY_BYTES must be a positive",
        "GITHUB_WEBHOOK_SECRET and GITHUB_WEBHOOK_SECRET_FILE are both set",
        "WANDB_WEBHOOK_TOKEN_FILE: cannot read /nonexistent",
        "ORGPULSE_LOG_LEVEL must be",
        "github.hotfix_pattern invalid regular expression",
        "github.repositories entries must be owner/name",
        "receiver.dedup_ttl_seconds must be >= 259200",
        "receiver.captur is not a known setting",
        "unknown section(s) ['mystery']",
    ):
        assert expected in text
    assert len(err.value.problems) == 11


def test_unreadable_or_invalid_yaml(tmp_path):
    with pytest.raises(config.ConfigError, match="cannot read"):
        load({"ORGPULSE_CONFIG": str(tmp_path / "missing.yaml")}, tmp_path)
    broken = tmp_path / "b.yaml"
    broken.write_text("github: [unclosed")
    with pytest.raises(config.ConfigError, match="not valid YAML"):
        load({"ORGPULSE_CONFIG": str(broken)}, tmp_path)
    listing = tmp_path / "l.yaml"
    listing.write_text("- a\n- b\n")
    with pytest.raises(config.ConfigError, match="top level must be a mapping"):
        load({"ORGPULSE_CONFIG": str(listing)}, tmp_path)


def test_sections_of_later_parts_are_accepted(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(
        "skypilot: {regions: [us-east-1]}\npoller: {interval_seconds: 600}\n"
        "github: {repositories: [org/repo], workflows: [Tests]}\n"
        "fom: {formulas: {ci.failing_workflows: {limit: 8}}}\n"
    )
    s = load({"ORGPULSE_CONFIG": str(path)}, tmp_path)
    assert s.section("skypilot")["regions"] == ["us-east-1"]
    assert s.section("poller")["interval_seconds"] == 600
    assert s.section("github")["repositories"] == ["org/repo"]
    assert s.section("fom")["formulas"] == {"ci.failing_workflows": {"limit": 8}}


def test_fom_overrides_are_checked_against_the_formula_table(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("fom: {formulas: {ci.nope: {}, ci.stale_prs: {limt: 3}}, thresholds: {green: 0.2, yellow: 0.5}}\n")
    with pytest.raises(config.ConfigError) as err:
        load({"ORGPULSE_CONFIG": str(path)}, tmp_path)
    assert "unknown formula 'ci.nope'" in str(err.value)
    assert "fom.thresholds must be {green, yellow}" in str(err.value)


def test_secret_never_prints():
    secret = config.Secret("hunter2")
    assert "hunter2" not in repr(secret) + str(secret) + f"{secret}" + repr([secret])


def test_redis_url_from_a_secret_file_wins_and_never_shows(tmp_path):
    secret = tmp_path / "redis-url"
    secret.write_text("redis://:hunter2@redis:6379/0\n")
    options = tmp_path / "o.yaml"
    options.write_text("receiver: {dedup_backend: redis, redis_url: 'redis://other:6379/1'}\n")
    s = load({"ORGPULSE_REDIS_URL_FILE": str(secret), "ORGPULSE_CONFIG": str(options)}, tmp_path)
    assert s.redis_url.reveal() == b"redis://:hunter2@redis:6379/0"
    assert "hunter2" not in repr(s)


def test_redis_backend_without_a_url_is_refused(tmp_path):
    options = tmp_path / "o.yaml"
    options.write_text("receiver: {dedup_backend: redis}\n")
    with pytest.raises(config.ConfigError, match="no Redis URL"):
        load({"ORGPULSE_CONFIG": str(options)}, tmp_path)
    options.write_text("receiver: {redis_url: 'http://x'}\n")
    with pytest.raises(config.ConfigError, match="redis_url must be"):
        load({"ORGPULSE_CONFIG": str(options)}, tmp_path)
