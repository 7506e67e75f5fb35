"""Scale: ``--workers`` against one process, and key-set independence against its targets.
Writes benchmarks/results/scale.json and scale.md (quoted in the README).

Run: .venv/bin/python benchmarks/bench_scale.py [--quick]

Each case runs once (the machine is shared: figures vary with its load, which is recorded).
Wall time is what ``--workers`` is for; CPU time adds every process (the driver and its
workers), so the price of the partitioning shows too.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import time
from pathlib import Path

from mrkcheck.check.checker import Checker
from mrkcheck.examples import mrk_peer
from mrkcheck.model import kms

RESULTS = Path(__file__).parent / "results"


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def measure(name: str, checker: Checker) -> dict:
    load = os.getloadavg()[0]
    cpu, started = _cpu(), time.perf_counter()
    result = checker.run()
    wall, cpu = time.perf_counter() - started, _cpu() - cpu
    s = result.stats
    row = {
        "case": name,
        "distinct": s.distinct,
        "generated": s.generated,
        "depth": s.depth,
        "verdicts": sorted({str(r.status) for r in result.properties}),
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "load_before": round(load, 1),
        "independence": (result.independence or {}).get("reason"),
    }
    print(json.dumps(row), flush=True)
    return row


def worker_cases(quick: bool) -> list[tuple[str, Checker]]:
    instances = [
        ("kms 4 Regions x 1 set", kms.build(regions=4), False),
        ("kms 5 Regions x 1 set, symmetry", kms.build(regions=5), True),
    ]
    if not quick:
        big = kms.build(regions=3, key_sets=2, origins="AWS_KMS", max_versions=1)
        instances.append(("kms 3 Regions x 2 sets (AWS_KMS, 1 version), symmetry", big, True))
    cases = []
    for name, model, symmetry in instances:
        base = Checker(model).symmetry(symmetry).liveness(False).independence(False)
        cases.append((f"{name}, 1 process", base))
        cases.append((f"{name}, --workers 2", base.workers(2)))
    return cases


def independence_cases() -> list[tuple[str, Checker]]:
    return [
        ("peer 4 Regions x 2 sets", Checker(mrk_peer.build(regions=4, key_sets=2))),
        ("kms 3 Regions x 2 sets, every option, liveness", Checker(kms.build(key_sets=2))),
        ("kms 3 Regions x 3 sets, every option, liveness", Checker(kms.build(key_sets=3))),
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="leave out the 3 x 2 product search")
    parser.add_argument(
        "--largest", action="store_true", help="only the 3 x 2 product search (scale-largest.*)"
    )
    args = parser.parse_args()
    cases = (
        worker_cases(False)[-2:]
        if args.largest
        else independence_cases() + worker_cases(args.quick)
    )
    rows = [measure(n, c) for n, c in cases]
    write(rows, "scale-largest" if args.largest else "scale")


def write(rows: list[dict], stem: str) -> None:
    RESULTS.mkdir(exist_ok=True)
    meta = {"python": platform.python_version(), "cpus": os.cpu_count(), "rows": rows}
    (RESULTS / f"{stem}.json").write_text(json.dumps(meta, indent=2) + "\n")
    lines = [
        "| case | distinct | generated | depth | wall s | CPU s | load before |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r['case']} | {r['distinct']:,} | {r['generated']:,} | {r['depth']} | "
        f"{r['wall_s']} | {r['cpu_s']} | {r['load_before']} |"
        for r in rows
    ]
    (RESULTS / f"{stem}.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
