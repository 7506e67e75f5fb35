"""What the single-table benchmark scripts write: ``benchmarks/results/STEM.json`` (the rows, and
the machine they were measured on) and ``STEM.md`` (one table row per measured row, quoted in the
README). Imported by the scripts as ``from publish import publish``: they run as
``python benchmarks/bench_X.py``, which puts this folder on the path."""

from __future__ import annotations

import json
import platform
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"


def publish(
    stem: str,
    rows: Sequence[dict[str, Any]],
    header: Sequence[str],
    line: Callable[[dict[str, Any]], str],
) -> None:
    """Write the rows as JSON with the machine, and as a Markdown table under ``header``."""
    RESULTS.mkdir(exist_ok=True)
    meta = {"python": platform.python_version(), "machine": platform.machine(), "cpus": 2}
    (RESULTS / f"{stem}.json").write_text(
        json.dumps({"meta": meta, "rows": list(rows)}, indent=2) + "\n"
    )
    (RESULTS / f"{stem}.md").write_text("\n".join([*header, *map(line, rows)]) + "\n")
