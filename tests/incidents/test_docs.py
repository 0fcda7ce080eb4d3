"""The examples of docs/incidents.md's "The Alertmanager receiver" and "Incidents" sections
are what buttress does: the config loads and classifies as documented, the CLI walk prints
what the doc shows, and the receiver's answer has the documented keys."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from buttress.cli import main
from buttress.config import load_text
from tests.alerting.test_webhook_api import payload
from tests.server.conftest import Api

DOC = Path(__file__).resolve().parents[2] / "docs" / "incidents.md"


def section(title: str) -> str:
    parts = re.split(r"^(?=## )", DOC.read_text(encoding="utf-8"), flags=re.MULTILINE)
    (found,) = [p for p in parts if p.startswith(f"## {title}")]
    return found


def test_the_incidents_config_example_loads_and_classifies() -> None:
    """The yaml example loads; its first rule wins over the second."""
    (example,) = re.findall(r"```yaml\n(.*?)```", section("Incidents"), re.DOTALL)
    config = load_text(example).incidents
    assert config.classify({"severity": "critical", "service": "payments"}) == "P1"
    assert config.classify({"severity": "ticket"}) == "P3"
    assert config.classify({"severity": "info"}) == "P4"
    assert config.reopen_after == 3600
    assert config.response_targets["P2"].escalate == 1800


def test_the_receiver_example_is_alertmanager_config() -> None:
    """The receiver example is a YAML receivers list pointing at the webhook."""
    (example,) = re.findall(r"```yaml\n(.*?)```", section("The Alertmanager receiver"), re.DOTALL)
    receiver = yaml.safe_load(example)["receivers"][0]
    assert receiver["webhook_configs"][0]["url"].endswith("/api/v1/alerts/alertmanager")


def test_the_receiver_answer_has_the_documented_keys(api: Api) -> None:
    """The documented JSON answer has the keys the receiver answers."""
    (shown,) = re.findall(r"```json\n(.*?)```", section("The Alertmanager receiver"), re.DOTALL)
    answer = api.client.post(
        "/api/v1/alerts/alertmanager", json=payload(), headers=api.auth(api.operator)
    ).json()
    assert set(json.loads(shown)) == set(answer)


def test_the_cli_walk_prints_what_the_doc_shows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each `$ buttress incident ...` line with output prints that output."""
    (console,) = re.findall(r"```console\n(.*?)```", section("Incidents"), re.DOTALL)
    lines = console.strip().splitlines()
    for n, line in enumerate(lines):
        if not line.startswith("$ "):
            continue
        args = [a.strip('"') for a in re.findall(r'"[^"]*"|\S+', line[2:])][1:]
        capsys.readouterr()
        assert main(["--data-dir", str(tmp_path), *args]) == 0, line
        out = capsys.readouterr().out.strip()
        expected = lines[n + 1] if n + 1 < len(lines) and not lines[n + 1].startswith("$") else ""
        if expected:
            assert out == expected, line


def test_the_escalation_example_loads_and_picks_its_policy() -> None:
    """The escalation example loads (every name it uses exists) and its rule picks the policy."""
    (example,) = re.findall(r"```yaml\n(.*?)```", section("Escalation"), re.DOTALL)
    config = load_text(example).incidents
    policy = config.escalation_policies["default"]
    assert [len(level.notify.teams) for level in policy.levels] == [0, 1, 0]
    assert config.policy_for({"service": "payments"}, "P1") == "default"
    assert policy.renotify_acknowledged_after == 3600


def test_the_escalation_error_shown_is_the_one_buttress_gives(tmp_path: Path) -> None:
    """The documented unknown-user error is what loading such a file says."""
    from buttress.config import ConfigError, load

    shown = re.search(r"e\.g\. `(buttress\.yaml:[^`]*)`", section("Escalation"), re.DOTALL)
    assert shown is not None
    (tmp_path / "buttress.yaml").write_text(
        "incidents:\n  oncall:\n    users:\n      alice: {email: alice@example.com}\n"
        "  notifiers:\n    hook: {type: webhook, url: 'http://127.0.0.1:9/x'}\n"
        "  escalation_policies:\n    default:\n      channels: [hook]\n      levels:\n"
        "        - notify: {users: [carol]}\n"
    )
    with pytest.raises(ConfigError) as err:
        load(tmp_path / "buttress.yaml")
    assert " ".join(shown[1].split()) in " ".join(str(err.value).split())


def section_with_fences(title: str) -> str:
    """Like :func:`section`, for a section whose code blocks hold ``## `` lines (the
    post-mortem sample): a heading inside a fence does not end the section."""
    found: list[str] = []
    fenced = inside = False
    for line in DOC.read_text(encoding="utf-8").splitlines(keepends=True):
        if line.startswith("```"):
            fenced = not fenced
        if not fenced and line.startswith("## "):
            inside = line.startswith(f"## {title}")
        if inside:
            found.append(line)
    assert found, title
    return "".join(found)


def test_the_postmortem_sample_is_what_draft_writes() -> None:
    """The doc's Markdown sample is the draft of the incident it describes, to the byte."""
    import datetime as dt

    from buttress.incidents.postmortem import draft
    from buttress.incidents.tables import Incident, IncidentActionItem, IncidentEvent

    (sample,) = re.findall(r"```markdown\n(.*?)```", section_with_fences("Post-mortems"), re.DOTALL)

    def at(hms: str) -> dt.datetime:
        return dt.datetime.fromisoformat(f"2026-12-04T{hms}+00:00")

    incident = Incident(
        year=2026,
        seq=42,
        title="CheckoutErrors: checkout error rate above 5%",
        severity="P1",
        services=["payments"],
        impact="card payments failed for one customer in five",
        roles={"tech_lead": "bo", "commander": "ann"},
        triggered_at=at("10:00:00"),
        resolved_at=at("10:47:00"),
    )
    firing = {"fingerprint": "f1", "alertname": "CheckoutErrors"}
    events = [
        IncidentEvent(at=at(t), kind=k, actor=a, detail=d)
        for t, k, a, d in [
            ("10:00:00", "triggered", "alertmanager", {"severity": "P1"}),
            ("10:00:00", "alert_firing", "alertmanager", firing),
            (
                "10:00:01",
                "escalated",
                "escalation",
                {
                    "kind": "triggered",
                    "level": 1,
                    "cycle": None,
                    "policy": "payments",
                    "recipients": ["ann"],
                    "channels": ["ops-slack"],
                },
            ),
            ("10:04:12", "acknowledged", "operator-token", {}),
            ("10:21:40", "note", "cli:bo", {"text": "rolled back release 42"}),
            ("10:47:00", "alert_resolved", "alertmanager", firing),
            ("10:47:00", "resolved", "alertmanager", {"reason": "all alerts resolved"}),
        ]
    ]
    item = IncidentActionItem(
        id=1,
        title="alert on the card error rate",
        owner="ann",
        due=dt.date(2026, 12, 18),
        status="open",
    )
    assert draft(incident, events, [item]) == sample


def test_the_postmortem_config_example_loads() -> None:
    """The yaml example of Post-mortems is a valid incidents section."""
    (example,) = re.findall(r"```yaml\n(.*?)```", section_with_fences("Post-mortems"), re.DOTALL)
    assert load_text(example).incidents.postmortem_required == ["P1", "P2"]


def test_the_postmortem_cli_walk_prints_what_the_doc_shows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each `$ buttress incident ...` line prints the line under it: on stdout, or, for an
    `error:` line, on stderr with exit code 2; the file it writes is the draft."""
    monkeypatch.chdir(tmp_path)
    (console,) = re.findall(r"```console\n(.*?)```", section_with_fences("Post-mortems"), re.DOTALL)
    lines = console.strip().splitlines()
    for n, line in enumerate(lines):
        if not line.startswith("$ "):
            continue
        args = [a.strip('"') for a in re.findall(r'"[^"]*"|\S+', line[2:])][1:]
        expected = lines[n + 1] if n + 1 < len(lines) and not lines[n + 1].startswith("$") else ""
        capsys.readouterr()
        refused = expected.startswith("error: ")
        assert main(["--data-dir", str(tmp_path / "data"), *args]) == (2 if refused else 0), line
        out, err = capsys.readouterr()
        if refused:
            assert expected in err.splitlines(), line
        elif expected:
            assert out.strip() == expected, line
    written = (tmp_path / "postmortem.md").read_text(encoding="utf-8")
    assert written.startswith("# Post-mortem: INC-2026-0001 — payments down\n")
    assert "| 1 | alert on the card error rate | ann | 2026-12-18 | open |" in written


def test_the_automated_actions_example_loads_with_its_checks() -> None:
    """The example loads with the validation step's checks, every type allowed and used."""
    from buttress.config_checks import register_domain_checks

    register_domain_checks()
    (example,) = re.findall(r"```yaml\n(.*?)```", section("Automated actions"), re.DOTALL)
    config = load_text(example, env={}).incidents
    assert sorted({rule.do.type for rule in config.actions}) == sorted(config.allowed_actions)
    tell = config.actions[-1]
    assert (tell.dry_run, tell.max_runs, tell.per) == (True, 5, 3600.0)
    assert tell.matches({}, "P1", "resolved")
    assert not config.actions[0].matches({"service": "checkout"}, "P3", "triggered")
