"""buttress alerts generate|check|test: the output directory replaced at once, files it did not
write refused, the real promtool and amtool run on the output, missing tools named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from buttress.alerting import slo_output
from buttress.alerting.generate import GeneratedFile
from tests.cli.conftest import Run, cli

__all__ = ["cli"]

CONFIG = """\
alerting:
  slos:
    - name: checkout
      service: shop
      objective: 99.9
      sli:
        kind: ratio
        errors: sum(rate(http_requests_total{code=~"5.."}[$window]))
        total: sum(rate(http_requests_total[$window]))
"""


@pytest.fixture
def conf(tmp_path: Path) -> Path:
    path = tmp_path / "b.yaml"
    path.write_text(CONFIG)
    return path


def test_generate_writes_every_file_and_a_manifest(cli: Run, conf: Path, tmp_path: Path) -> None:
    """Each file is printed as written; the manifest lists its kind and checksum."""
    result = cli("alerts", "generate", "--config", str(conf), "--out", "out")
    assert result.code == 0, result.err
    assert "wrote out/slo/checkout.rules.yml (rules)" in result.out
    assert "wrote out/slo/tests/checkout.test.yml (rules-test)" in result.out
    assert "wrote out/prometheus.yml (prometheus)" in result.out
    manifest = json.loads((tmp_path / "out" / slo_output.MANIFEST).read_text())["files"]
    assert manifest["slo/checkout.rules.yml"]["kind"] == "rules"
    assert yaml.safe_load((tmp_path / "out/prometheus.yml").read_text())["rule_files"] == [
        "*.rules.yml",
        "*/*.rules.yml",
    ]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.")]  # no temp left


def test_generate_refuses_a_file_it_did_not_write(cli: Run, conf: Path, tmp_path: Path) -> None:
    """A hand-edited generated file: exit 1 naming it, nothing changed; --force overwrites."""
    assert cli("alerts", "generate", "-c", str(conf), "-o", "out").code == 0
    edited = tmp_path / "out/slo/checkout.rules.yml"
    edited.write_text("groups: []\n")
    result = cli("alerts", "generate", "-c", str(conf), "-o", "out")
    assert result.code == 1
    assert "slo/checkout.rules.yml" in result.err
    assert "--force" in result.err
    assert edited.read_text() == "groups: []\n"
    assert cli("alerts", "generate", "-c", str(conf), "-o", "out", "--force").code == 0
    assert "slo-checkout" in edited.read_text()


def test_generate_refuses_a_foreign_file_at_a_generated_path(
    cli: Run, conf: Path, tmp_path: Path
) -> None:
    """A directory not written by generate, with a file where prometheus.yml goes: refused."""
    (tmp_path / "out").mkdir()
    (tmp_path / "out/prometheus.yml").write_text("global: {}\n")
    result = cli("alerts", "generate", "-c", str(conf), "-o", "out")
    assert result.code == 1
    assert "prometheus.yml" in result.err


def test_generate_keeps_your_files_and_drops_stale_ones(
    cli: Run, conf: Path, tmp_path: Path
) -> None:
    """A file of yours elsewhere in the directory survives; an SLO removed loses its files."""
    two = CONFIG + CONFIG.split("  slos:\n")[1].replace("checkout", "search")
    conf.write_text(two)
    assert cli("alerts", "generate", "-c", str(conf), "-o", "out").code == 0
    (tmp_path / "out/README.txt").write_text("mine\n")
    conf.write_text(CONFIG)
    result = cli("alerts", "generate", "-c", str(conf), "-o", "out")
    assert result.code == 0, result.err
    assert "removed out/slo/search.rules.yml (no longer generated)" in result.out
    assert (tmp_path / "out/README.txt").read_text() == "mine\n"
    assert not (tmp_path / "out/slo/search.rules.yml").exists()


def test_generate_json_lists_the_files(cli: Run, conf: Path) -> None:
    """--format json: the files with their kinds."""
    result = cli("alerts", "generate", "-c", str(conf), "-o", "out", "--format", "json")
    data = json.loads(result.out)
    assert {"path": "slo/checkout.rules.yml", "kind": "rules"} in data["files"]


def test_check_passes_on_the_generated_output(cli: Run, conf: Path) -> None:
    """check with no --out generates into a temporary directory and runs promtool on it."""
    result = cli("alerts", "check", "-c", str(conf))
    assert result.code == 0, result.out + result.err
    assert "ok   promtool check rules --lint=all --lint-fatal (1 file)" in result.out


def test_check_fails_on_a_broken_rule_file_of_yours(cli: Run, conf: Path, tmp_path: Path) -> None:
    """A user's rule file that does not parse: exit 1, promtool's message shown (json too)."""
    mine = tmp_path / "mine.yml"
    mine.write_text("groups:\n- name: g\n  rules:\n  - record: x\n    expr: rate(y[5m]\n")
    assert cli("alerts", "generate", "-c", str(conf), "-o", "out").code == 0
    result = cli("alerts", "check", "-c", str(conf), "--out", "out", str(mine))
    assert result.code == 1
    assert "FAIL promtool check rules" in result.out
    assert "mine.yml" in result.out
    assert "parse error" in result.out
    data = json.loads(cli("alerts", "check", "-c", str(conf), "--format", "json", str(mine)).out)
    assert data["ok"] is False
    assert str(mine) in data["results"][0]["files"]


def test_check_lints_duplicate_rules(cli: Run, conf: Path, tmp_path: Path) -> None:
    """--lint-fatal: a user's file repeating a rule fails the check."""
    rule = "  - record: job:x:rate5m\n    expr: sum(rate(x[5m]))\n"
    mine = tmp_path / "dup.yml"
    mine.write_text("groups:\n- name: g\n  rules:\n" + rule + rule)
    result = cli("alerts", "check", "-c", str(conf), str(mine))
    assert result.code == 1
    assert "duplicate" in result.out.lower()


def test_check_runs_amtool_on_an_alertmanager_file(tmp_path: Path, cli: Run, conf: Path) -> None:
    """An alertmanager file in the output is checked with amtool check-config."""
    good = {"route": {"receiver": "a"}, "receivers": [{"name": "a"}]}
    bad = {"route": {"receiver": "missing"}, "receivers": [{"name": "a"}]}
    for config, code in ((good, 0), (bad, 1)):
        slo_output.write(
            tmp_path / "am",
            [GeneratedFile("alertmanager.yml", "alertmanager", yaml.safe_dump(config))],
            force=True,
        )
        result = cli("alerts", "check", "-c", str(conf), "--out", str(tmp_path / "am"))
        assert result.code == code, result.out
        assert "amtool check-config alertmanager.yml" in result.out


def test_test_runs_the_generated_rule_tests(cli: Run, conf: Path) -> None:
    """test: promtool test rules on each SLO's test file, passing."""
    assert cli("alerts", "generate", "-c", str(conf), "-o", "out").code == 0
    result = cli("alerts", "test", "-c", str(conf), "--out", "out")
    assert result.code == 0, result.out
    assert "ok   promtool test rules slo/tests/checkout.test.yml" in result.out


def test_test_runs_route_assertions_with_amtool(tmp_path: Path, cli: Run, conf: Path) -> None:
    """An alertmanager-test file: each case becomes amtool config routes test
    --verify.receivers; a wrong expectation fails its case only."""
    config = {
        "route": {
            "receiver": "default",
            "routes": [{"receiver": "pager", "matchers": ['severity="critical"']}],
        },
        "receivers": [{"name": "default"}, {"name": "pager"}],
    }
    cases = {
        "config": "alertmanager.yml",
        "cases": [
            {"labels": {"severity": "critical"}, "receivers": ["pager"]},
            {"labels": {"severity": "warning"}, "receivers": ["default"]},
            {"labels": {"severity": "warning"}, "receivers": ["pager"]},
        ],
    }
    slo_output.write(
        tmp_path / "am",
        [
            GeneratedFile("alertmanager.yml", "alertmanager", yaml.safe_dump(config)),
            GeneratedFile("alertmanager.test.json", "alertmanager-test", json.dumps(cases)),
        ],
    )
    result = cli(
        "alerts", "test", "-c", str(conf), "--out", str(tmp_path / "am"), "--format", "json"
    )
    assert result.code == 1
    oks = [r["ok"] for r in json.loads(result.out)["results"]]
    assert oks == [True, True, False]


def test_a_missing_tool_names_its_package(
    cli: Run, conf: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """promtool not on PATH: exit 1 and the Debian package to install."""
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    result = cli("alerts", "test", "-c", str(conf))
    assert result.code == 1
    assert "apt-get install prometheus" in result.err
    result = cli("alerts", "check", "-c", str(conf))
    assert result.code == 1
    assert "promtool is not installed" in result.err


def test_an_out_directory_not_from_generate_is_refused(
    cli: Run, conf: Path, tmp_path: Path
) -> None:
    """check --out on a directory with no manifest: exit 1, saying so."""
    (tmp_path / "plain").mkdir()
    result = cli("alerts", "check", "-c", str(conf), "--out", str(tmp_path / "plain"))
    assert result.code == 1
    assert "not written by `buttress alerts generate`" in result.err


def test_an_alertmanager_yml_with_an_inline_secret_is_written_for_its_owner_only(
    tmp_path: Path,
) -> None:
    """Alertmanager needs an inline receiver key in its file: the file is written 0600; with
    the key in a *_file, the file keeps the usual mode."""
    import stat

    from buttress.alerting.generate import generate
    from buttress.alerting.slo_output import write
    from buttress.config import load_text

    inline = load_text(
        "alerting:\n  alertmanager:\n    receivers:\n"
        "      - {name: p, type: pagerduty, routing_key: pd-key-123}\n",
        env={},
    )
    write(tmp_path / "a", generate(inline))
    assert stat.S_IMODE((tmp_path / "a" / "alertmanager.yml").stat().st_mode) == 0o600
    assert "pd-key-123" in (tmp_path / "a" / "alertmanager.yml").read_text()
    key = tmp_path / "pd.key"
    key.write_text("pd-key-123\n")
    from_file = load_text(
        "alerting:\n  alertmanager:\n    receivers:\n"
        f"      - {{name: p, type: pagerduty, routing_key_file: {key}}}\n",
        env={},
    )
    write(tmp_path / "b", generate(from_file))
    assert stat.S_IMODE((tmp_path / "b" / "alertmanager.yml").stat().st_mode) & 0o044


def test_generate_refuses_promql_that_does_not_parse(cli: Run, conf: Path, tmp_path: Path) -> None:
    """A query promtool cannot parse is an error at its line (exit 2), and nothing is written:
    generate does not ship a rule file Prometheus would reject."""
    conf.write_text(CONFIG.replace("[$window]))\n        total", "[$window])\n        total"))
    result = cli("alerts", "generate", "-c", str(conf), "-o", "out")
    assert result.code == 2, result.out
    assert "b.yaml:8:17 alerting.slos[0].sli.errors: promtool says: could not parse" in result.err
    assert not (tmp_path / "out").exists()
