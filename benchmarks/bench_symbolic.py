"""Measure the symbolic engine: BMC depth reached in a time budget, and each induction proof.

Usage: ``python benchmarks/bench_symbolic.py [--model kms] [--seconds 60]``. Writes
``benchmarks/results/symbolic.json`` and ``symbolic.md``. Figures depend on the machine; the
tests never assert on time.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import z3

from mrkcheck.check.cutoff import prove_any
from mrkcheck.check.symbolic import bmc, inductive
from mrkcheck.cli.prove import load_lemmas
from mrkcheck.lang.model import ALWAYS, ModelError
from mrkcheck.registry import load_factory

RESULTS = Path(__file__).parent / "results"


def bench_bmc(model, seconds: float) -> dict:
    """Deepen BMC until the budget runs out; record when each depth was finished."""
    marks: list[tuple[int, float]] = []
    started = time.perf_counter()

    def mark(text: str) -> None:
        marks.append((int(text.split()[1]), round(time.perf_counter() - started, 3)))

    result = bmc(model, depth=10_000, max_seconds=seconds, progress=mark)
    return {
        "budget_seconds": seconds,
        "depth_reached": result.options["bmc_depth"],
        "seconds_per_depth": marks,
        "stopped": result.stopped,
        "violations": [r.name for r in result.properties if r.status == "violated"],
    }


def bench_induction(spec: str, model, names: list[str]) -> list[dict]:
    module = load_lemmas(spec)
    lemmas = module.lemmas if module else (lambda m: [])
    option = getattr(module, "SIZE_OPTION", "regions")
    any_size_lemmas = getattr(module, "any_size_lemmas", lemmas)
    factory = load_factory(spec)
    rows = []
    for name in names:
        own = [lemma for lemma in lemmas(model) if lemma.name != name]
        one = inductive(model, name, own)
        row = {
            "property": name,
            "inductive_at_default": one.holds,
            "induction_seconds": round(one.seconds, 3),
            "cti": None if one.cti is None else f"{one.cti.label} breaks {one.cti.failed}",
        }
        try:
            any_size = prove_any(factory, name, any_size_lemmas, option=option)
        except ModelError as exc:  # e.g. an action property: not supported by the cutoff yet
            row.update(any_size_proved=False, cutoff=None, sizes_checked=[], any_size_seconds=0)
            row["any_size_note"] = str(exc)
        else:
            row.update(
                any_size_proved=any_size.proved_any,
                cutoff=any_size.cutoff,
                route=any_size.route,
                sizes_checked=any_size.sizes,
                any_size_seconds=round(any_size.seconds, 3),
                any_size_note=any_size.describe(),
            )
        rows.append(row)
    return rows


def to_markdown(data: dict) -> str:
    b = data["bmc"]
    lines = [
        f"# Symbolic engine on `{data['model']}` ({data['options']})",
        "",
        f"Z3 {data['z3']}, Python {data['python']}, {data['machine']}.",
        "",
        f"BMC depth reached in {b['budget_seconds']:.0f} s: **{b['depth_reached']}**",
        "",
        "| property | induction (default instance) | s | any number of Regions | route | cutoff "
        "| sizes | s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in data["induction"]:
        lines.append(
            f"| {r['property']} | {'proved' if r['inductive_at_default'] else 'not inductive'} "
            f"| {r['induction_seconds']} | {'proved' if r['any_size_proved'] else 'no'} "
            f"| {r.get('route', '')} | {r['cutoff']} | {r['sizes_checked']} "
            f"| {r['any_size_seconds']} |"
        )
    lines += [
        "",
        "Induction: 1-induction on the default instance with the other lemmas of "
        "`model/kms_lemmas.py`. Any number of Regions: the cutoff argument of "
        "`docs/any-regions.md`, with the other options of the default instance fixed.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="kms")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--property", action="append")
    args = parser.parse_args()
    model = load_factory(args.model)()
    module = load_lemmas(args.model)
    names = (
        args.property
        or list(getattr(module, "ANY_SIZE", ()))
        or [p.name for p in model.properties if p.kind == ALWAYS and p.expected != "violated"]
    )
    data = {
        "model": model.name,
        "options": dict(model.options),
        "z3": z3.get_version_string(),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "bmc": bench_bmc(model, args.seconds),
        "induction": bench_induction(args.model, model, names),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "symbolic.json").write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    (RESULTS / "symbolic.md").write_text(to_markdown(data))
    print(to_markdown(data))


if __name__ == "__main__":
    main()
