"""Wall-clock time of every command of README.md and docs/*.md, run as written (the venv's
``mrkcheck``, a fresh folder per block, as tests/test_readme.py runs them). Writes
benchmarks/results/readme.json and readme.md; the README quotes these figures.

Run: .venv/bin/python benchmarks/bench_readme.py [--quick]   (--quick leaves out the slow ones)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tools/ is not installed

from tools.readme_commands import documented_commands, fresh_folder, run  # noqa: E402

RESULTS = Path(__file__).parent / "results"


def measure(quick: bool) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folders: dict[tuple[str, int], Path] = {}
        for command in documented_commands():
            if command.skip or (quick and command.slow):
                continue
            key = (command.source, command.block)
            if key not in folders:
                folders[key] = fresh_folder(Path(tmp) / f"block{len(folders)}")
            started = time.perf_counter()
            ran = run(command, folders[key], timeout=3600)
            seconds = time.perf_counter() - started
            rows.append(
                {
                    "where": command.id,
                    "command": command.text,
                    "exit": ran.returncode,
                    "expected_exit": command.exit_code,
                    "slow": command.slow,
                    "seconds": round(seconds, 1),
                }
            )
            print(f"{seconds:7.1f}s  exit {ran.returncode:3}  {command.text}", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="leave out the commands tagged slow")
    args = parser.parse_args()
    load = os.getloadavg()[0]  # a shared machine: the figures scale with what else runs
    rows = measure(args.quick)
    machine = (
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"load average {load:.1f} at the start"
    )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "readme.json").write_text(
        json.dumps({"machine": machine, "commands": rows}, indent=2) + "\n"
    )
    lines = [
        f"One run each on {machine} (wall clock, process start-up included).",
        "",
        "| where | command | exit | seconds |",
        "|---|---|---:|---:|",
    ]
    for r in rows:
        lines.append(f"| {r['where']} | `{r['command']}` | {r['exit']} | {r['seconds']} |")
    (RESULTS / "readme.md").write_text("\n".join(lines) + "\n")
    wrong = [r for r in rows if r["exit"] != r["expected_exit"]]
    if wrong:
        sys.exit(f"{len(wrong)} commands did not give the documented exit code: {wrong}")


if __name__ == "__main__":
    main()
