"""Explicit-engine throughput: TwoPhase with 5, 6 and 7 resource managers and the KMS standard
instances. Writes benchmarks/results/explicit.json and explicit.md (quoted in the README).

Run: .venv/bin/python benchmarks/bench_explicit.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import resource
import time

from publish import publish

from mrkcheck.check.explicit import check
from mrkcheck.examples import twophase
from mrkcheck.model import kms

CASES = [
    ("twophase rm=5", lambda: twophase.build(5), False),
    ("twophase rm=6", lambda: twophase.build(6), False),
    ("twophase rm=7", lambda: twophase.build(7), False),
    ("kms 3 Regions x 1 set", lambda: kms.build(), False),
    ("kms 4 Regions x 1 set", lambda: kms.build(regions=4), False),
    ("kms 5 Regions x 1 set, symmetry", lambda: kms.build(regions=5), True),
    (
        "kms 3 Regions x 2 sets (AWS_KMS, 1 version), symmetry",
        lambda: kms.build(regions=3, key_sets=2, origins="AWS_KMS", max_versions=1),
        True,
    ),
]


def measure(name: str, make, symmetry: bool) -> dict:
    model = make()
    started = time.perf_counter()
    result = check(model, symmetry=symmetry)
    seconds = time.perf_counter() - started
    s = result.stats
    return {
        "case": name,
        "symmetry": symmetry,
        "distinct": s.distinct,
        "generated": s.generated,
        "depth": s.depth,
        "seconds": round(seconds, 2),
        "distinct_per_s": round(s.distinct / seconds),
        "generated_per_s": round(s.generated / seconds),
        "max_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


HEADER = (
    "| case | distinct | generated | depth | seconds | distinct/s | generated/s |",
    "|---|---:|---:|---:|---:|---:|---:|",
)


def table_row(r: dict) -> str:
    return (
        f"| {r['case']} | {r['distinct']:,} | {r['generated']:,} | {r['depth']} | "
        f"{r['seconds']} | {r['distinct_per_s']:,} | {r['generated_per_s']:,} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="skip the cases over 30 s")
    args = parser.parse_args()
    cases = CASES[:-1] if args.quick else CASES
    rows = []
    for name, make, symmetry in cases:
        row = measure(name, make, symmetry)
        print(json.dumps(row))
        rows.append(row)
    publish("explicit", rows, HEADER, table_row)


if __name__ == "__main__":
    main()
