"""`mrkcheck simulate` throughput: random walks of the KMS model on instances too large to explore
(5 Regions x 2 and 3 key sets), and how long finding and shrinking a seeded mutant's violation
takes. Writes benchmarks/results/simulate.json and simulate.md (quoted in the README).

Run: .venv/bin/python benchmarks/bench_simulate.py
"""

from __future__ import annotations

import json

from publish import publish

from mrkcheck.check.simulate import simulate
from mrkcheck.registry import model_builder

SEED = 0

CASES = [
    ("kms 5 Regions x 2 sets", None, {"regions": "5", "key_sets": 2}, 300, 50),
    ("kms 5 Regions x 3 sets", None, {"regions": "5", "key_sets": 3}, 200, 50),
    (
        "kms 5 Regions x 2 sets, mutant promote_before_demote",
        "promote_before_demote",
        {"regions": "5", "key_sets": 2},
        1000,
        50,
    ),  # fmt: skip
]


def measure(name: str, mutant: str | None, options: dict, n_traces: int, max_steps: int) -> dict:
    model = model_builder("kms", mutant)(**options)
    result = simulate(model, n_traces, max_steps, SEED)
    row = {"case": name, "n_traces": n_traces, "max_steps": max_steps, **result.as_dict()}
    row.pop("model")
    return row


HEADER = (
    "| case | traces | steps | seconds (walks) | traces/s | steps/s | violated | "
    "length (shrunk) | seconds (with shrinking) |",
    "|---|---:|---:|---:|---:|---:|---|---:|---:|",
)


def table_row(r: dict) -> str:
    return (
        f"| {r['case']} | {r['walks']:,} | {r['steps']:,} | {r['generation_seconds']} | "
        f"{r['traces_per_second']:,} | {r['steps_per_second']:,} | {r['violated'] or '-'} | "
        f"{r['counterexample_length'] or '-'} | {r['seconds']} |"
    )


def main() -> None:
    rows = []
    for case in CASES:
        row = measure(*case)
        print(json.dumps(row))
        rows.append(row)
    publish("simulate", rows, HEADER, table_row)


if __name__ == "__main__":
    main()
