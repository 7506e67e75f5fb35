"""The gallery of runbooks (examples/workflows/) on the default instance: verdict, exit code,
state counts and the time of a whole check (building the model, safety, liveness), as
``mrkcheck check --workflow FILE`` does it. Writes benchmarks/results/workflows.json and
workflows.md (quoted in the README).

Run: .venv/bin/python benchmarks/bench_workflows.py
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from publish import publish

from mrkcheck.check.checker import Checker
from mrkcheck.model import workflow

GALLERY = Path(__file__).resolve().parent.parent / "examples" / "workflows"
APP = str(GALLERY / "encrypt_app.py")

# (case, file, options)
CASES = [
    ("failover_naive", "failover_naive.py", {}),
    ("failover", "failover.py", {}),
    ("failover, --others encrypt_app.py", "failover.py", {"others": APP}),
    ("failover, --copies 2", "failover.py", {"copies": 2}),
    ("failover, --others any", "failover.py", {"others": "any"}),
    ("replicate_then_encrypt", "replicate_then_encrypt.py", {}),
    ("delete_primary_naive", "delete_primary_naive.py", {}),
    ("delete_primary", "delete_primary.py", {}),
    ("rotation_status", "rotation_status.py", {}),
    ("rotation_status_wait", "rotation_status_wait.py", {}),
    ("two_operators", "two_operators.py", {}),
    ("failover_watch_replica", "failover_watch_replica.py", {}),
]


def measure(case: str, file: str, options: dict) -> dict:
    started = time.perf_counter()
    model = workflow.build(workflow=str(GALLERY / file), **options)
    result = Checker(model).run()
    seconds = time.perf_counter() - started
    s = result.stats
    shortest = {r.name: len(r.trace) for r in result.violations if r.trace is not None}
    return {
        "case": case,
        "exit_code": result.exit_code,
        "violated": shortest,
        "distinct": s.distinct,
        "generated": s.generated,
        "depth": s.depth,
        "seconds": round(seconds, 2),
    }


HEADER = (
    "| runbook | exit | violated (counterexample length) | distinct | generated | depth | seconds |",
    "|---|---:|---|---:|---:|---:|---:|",
)


def table_row(r: dict) -> str:
    found = ", ".join(f"{name} ({n})" for name, n in r["violated"].items()) or "none"
    return (
        f"| {r['case']} | {r['exit_code']} | {found} | {r['distinct']:,} | "
        f"{r['generated']:,} | {r['depth']} | {r['seconds']} |"
    )


def main() -> None:
    rows = []
    for case, file, options in CASES:
        row = measure(case, file, options)
        print(json.dumps(row))
        rows.append(row)
    publish("workflows", rows, HEADER, table_row)


if __name__ == "__main__":
    main()
