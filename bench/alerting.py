"""SLO rule generation: time for 1, 100 and 1,000 SLOs, promtool's check of the 1,000, and the
rules per SLO against Sloth's.

    .venv/bin/python bench/alerting.py                 # 1, 100, 1000 SLOs, 3 rounds
    .venv/bin/python bench/alerting.py --slos 1 10 --rounds 1

The SLOs cycle through the three SLI kinds (ratio with errors/total, latency, threshold) with
the default burn tiers and a 30-day period. Measured, each the median of ``--rounds``:

- load: ``buttress.config.load_text`` of the YAML (the models and the validation step);
- generate: ``buttress.alerting.generate.generate`` (rule files, their promtool tests and
  fixtures, the scrape snippet), in the process, after a first warm-up call;
- write: the files written to a temporary directory;
- check: ``buttress alerts check``'s promtool run, ``promtool check rules --lint=all
  --lint-fatal`` on every SLO rule file of the largest run (the tests' fixtures are checked
  when ``buttress alerts test`` loads them), and separately with the fixtures too.

The machine is shared: wall times are given with the CPU time of the process (or of promtool).

Rule count: the rules of one SLO's rule file (not its test fixture), counted by type. Sloth
(v0.11, the same four windows pairs) writes per SLO 8 SLI recording rules (5m, 30m, 1h, 2h,
6h, 1d, 3d, 30d), 7 metadata rules and 2 alerts (page and ticket, each an ``or`` of two
window pairs): 17 (14-16 in older versions, which did not record every window).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import yaml

from buttress.alerting import tools
from buttress.alerting.generate import GeneratedFile, generate
from buttress.alerting.slo_tests import FIXTURE_SUFFIX
from buttress.config import load_text
from buttress.config_checks import register_domain_checks

SLOTH_RULES = {"sli recording": 8, "metadata": 7, "alerts": 2}


def slos(n: int) -> str:
    items = []
    for i in range(n):
        kind = ("ratio", "latency", "threshold")[i % 3]
        if kind == "ratio":
            sli = {
                "kind": "ratio",
                "errors": f'sum(rate(http_requests_total{{job="svc{i}",code=~"5.."}}[$window]))',
                "total": f'sum(rate(http_requests_total{{job="svc{i}"}}[$window]))',
            }
        elif kind == "latency":
            sli = {
                "kind": "latency",
                "metric": "http_request_duration_seconds",
                "threshold": 0.3,
                "selector": f'{{job="svc{i}"}}',
            }
        else:
            sli = {"kind": "threshold", "expr": f'min(up{{job="svc{i}"}})', "op": ">=", "bound": 1}
        items.append(
            {
                "name": f"slo-{i}",
                "service": f"svc{i}",
                "team": f"team{i % 7}",
                "objective": "99.9",
                "sli": sli,
                "links": {"runbook": f"https://runbooks.example/svc{i}"},
            }
        )
    return yaml.safe_dump({"alerting": {"slos": items}}, sort_keys=False)


def median_time(fn: Callable[[], object], rounds: int) -> tuple[float, float]:
    """Median wall and CPU seconds of ``fn()`` over ``rounds``."""
    walls, cpus = [], []
    for _ in range(rounds):
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        cpus.append(time.process_time() - cpu)
        walls.append(time.perf_counter() - wall)
    return statistics.median(walls), statistics.median(cpus)


def promtool_check(files: list[Path]) -> tuple[float, float]:
    """Wall and CPU (promtool's own) seconds of promtool check rules --lint-fatal on ``files``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = time.perf_counter()
    result = tools.run(
        "promtool", ["check", "rules", "--lint=all", "--lint-fatal", *map(str, files)]
    )
    wall = time.perf_counter() - wall
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if not result.ok:
        raise SystemExit(result.output[-2000:])
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def write(root: Path, files: list[GeneratedFile]) -> list[Path]:
    rules = []
    for f in files:
        path = root / f.path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f.content, encoding="utf-8")
        if f.kind == "rules":
            rules.append(path)
    return rules


def rule_counts(files: list[GeneratedFile]) -> Counter[str]:
    (first,) = [f for f in files if f.path == "slo/slo-0.rules.yml"]
    counts: Counter[str] = Counter()
    for rule in yaml.safe_load(first.content)["groups"][0]["rules"]:
        name = rule.get("record") or "alert"
        if name == "alert":
            counts["alerts"] += 1
        elif name.startswith("slo:sli_error:"):
            counts["sli recording"] += 1
        elif name.startswith("slo:sli_events:"):
            counts["events (low-traffic guard)"] += 1
        else:
            counts["metadata"] += 1
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--slos", type=int, nargs="+", default=[1, 100, 1000])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    register_domain_checks()
    generate(load_text(slos(3)))  # warm-up: imports, caches
    print(f"{'SLOs':>6} {'load s (cpu)':>14} {'generate s (cpu)':>18} {'files':>6} {'MB':>7}")
    last: tuple[int, float, list[GeneratedFile]] | None = None
    for n in args.slos:
        text = slos(n)
        config = load_text(text)
        load_wall, load_cpu = median_time(lambda text=text: load_text(text), args.rounds)
        files = generate(config)
        gen_wall, gen_cpu = median_time(lambda config=config: generate(config), args.rounds)
        size = sum(len(f.content.encode()) for f in files) / 1e6
        print(
            f"{n:>6} {load_wall:>6.3f} ({load_cpu:.3f}) {gen_wall:>8.3f} ({gen_cpu:.3f})"
            f" {len(files):>6} {size:>7.2f}"
        )
        last = (n, load_wall + gen_wall, files)
    assert last is not None
    n, made, files = last
    with tempfile.TemporaryDirectory() as tmp:
        rules = write(Path(tmp), files)
        slo_rules = [p for p in rules if not p.name.endswith(FIXTURE_SUFFIX)]
        check_wall, check_cpu = promtool_check(slo_rules)
        all_wall, all_cpu = promtool_check(rules)
    print(
        f"\npromtool check rules --lint=all --lint-fatal, {n} SLOs:\n"
        f"  {len(slo_rules)} SLO rule files (buttress alerts check): {check_wall:.2f} s "
        f"(promtool cpu {check_cpu:.2f} s)\n"
        f"  with the {len(rules) - len(slo_rules)} test fixtures too: {all_wall:.2f} s "
        f"(cpu {all_cpu:.2f} s)\n"
        f"  load + generate + check: {made + check_wall:.2f} s (goal < 10 s)"
    )
    counts = rule_counts(files)
    print("\nrules per SLO (slo/<name>.rules.yml, default tiers, 30 d):")
    for kind in ("sli recording", "events (low-traffic guard)", "metadata", "alerts"):
        print(f"  {kind:<28} {counts[kind]:>3}   Sloth: {SLOTH_RULES.get(kind, 0)}")
    print(f"  {'total':<28} {sum(counts.values()):>3}   Sloth: {sum(SLOTH_RULES.values())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
