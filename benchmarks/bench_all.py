"""The benchmark suite: every backend on the KMS standard instances and the peer model, with and
without symmetry, and Spin on the peer model side by side. One command:

    .venv/bin/python benchmarks/bench_all.py            # 10-20 minutes on 2 shared cores
    .venv/bin/python benchmarks/bench_all.py --quick    # the small cases only, under a minute
    .venv/bin/python benchmarks/bench_all.py --largest --backend vectorised   # one row, 20 s

Writes benchmarks/results/suite.json and suite.md (suite-quick.* with --quick, suite-largest.*
with --largest: the largest KMS instance alone, without Spin), quoted in the README.

Methodology. Each case runs in a process of its own, which checks it through the command-line
entry (``mrkcheck check ... --no-liveness --no-independence --quiet --json``) three times: twice
with ``--max-states 1`` (the first warms up imports; the second, the "setup", is the model
build, symmetry check and compilation that the real check repeats), then in full. ``check CPU``
is the full check's CPU time (user + system), ``search CPU`` is that less the setup's, and
``generated/s`` is generated states per second of search CPU. Memory per distinct state is
what the backend's search loop adds (it follows the setup: model, generated code and symmetry
tables are fixed costs, not per-state ones), measured two ways and divided by the distinct
states. ``B/state resident``: in the timed full check, the kernel's record of peak resident
memory is reset as the search loop starts (``/proc/self/clear_refs``): its peak less the
resident memory then. ``B/state allocated``: the full check run once more, in a process of its
own, under ``tracemalloc``, which counts every numpy array and Python object by its size: the
most the search loop holds at once above what was held when it began: keys, trace links,
frontier and temporaries, exactly, the same from run to run (resident memory also holds what
glibc's allocator keeps of freed temporaries); for the vectorised backend only (tracing each of
the explicit engine's millions of tuples made KMS 4x1, 10 s untraced, last over 7 minutes). The
rise of resident memory over the whole check, used before, mixed in the setup's memory, by how
much depended on what the earlier checks of the process had left to the garbage collector: on
KMS 3x2 it varied from 27 to 44 bytes per state for the same code, 2 to 40 MiB of it before the
first state. ``process CPU`` and ``peak MiB`` are the whole process's (three checks, start-up
included). Per-state figures are shown only from 100,000 distinct states on: below, fixed costs
dominate them. Spin (Debian's ``spin``, ``gcc -O2 -DSAFETY -DBFS``, as
``../shared/peers/README.md`` says) runs the peer model's Promela text; its ``spin -a`` and gcc
times are reported apart, and its run alternates with mrkcheck's on the same instance, pair
after pair, so that a change of load on the shared machine affects both; the ratio of each pair
(mrkcheck CPU / Spin CPU, whole process against pan) is reported as min / median / max.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).parent / "results"
PEERS = ROOT.parent / "shared" / "peers"
BACKENDS = ("explicit", "vectorised")

KMS_3X2 = ["--regions", "3", "--key-sets", "2", "-D", "origins=AWS_KMS", "-D", "max_versions=1"]
LARGEST = "kms 3x2 AWS_KMS 1 version"  # the largest KMS standard instance (issue 15's target)
# (name, mrkcheck arguments, symmetry, quick)
CASES: list[tuple[str, list[str], bool, bool]] = [
    ("kms 2x1", ["kms", "--regions", "2"], False, True),
    ("kms 3x1", ["kms", "--regions", "3"], False, True),
    ("kms 3x1", ["kms", "--regions", "3"], True, True),
    ("kms 4x1", ["kms", "--regions", "4"], False, False),
    ("kms 4x1", ["kms", "--regions", "4"], True, False),
    ("kms 5x1", ["kms", "--regions", "5"], True, False),
    ("kms 3x2 AWS_KMS 1 version", ["kms", *KMS_3X2], True, False),
    ("peer 3x1", ["peer", "--regions", "3", "--no-deadlock"], False, True),
    ("peer 3x1", ["peer", "--regions", "3", "--no-deadlock"], True, True),
    ("peer 4x1", ["peer", "--regions", "4", "--no-deadlock"], False, True),
    ("peer 4x1", ["peer", "--regions", "4", "--no-deadlock"], True, True),
    ("peer 5x1", ["peer", "--regions", "5", "--no-deadlock"], False, False),
    ("peer 5x1", ["peer", "--regions", "5", "--no-deadlock"], True, False),
    ("peer 3x2", ["peer", "--regions", "3", "--key-sets", "2", "--no-deadlock"], True, False),
]
# Too large for the explicit engine in a benchmark (7.27 M states: 2.4 GB, minutes).
VECTORISED_ONLY = [
    ("peer 3x2", ["peer", "--regions", "3", "--key-sets", "2", "--no-deadlock"], False, False),
]
# Spin against mrkcheck: (Regions, key sets, pan's -w), pairs per backend
SPIN_CASES = [(4, 1, 22), (5, 1, 24)]
PAIRS = 3
PER_STATE_FROM = 100_000  # distinct states; below, fixed costs dominate per-state figures


def run(argv: list[str], cwd: Path | None = None) -> tuple[float, float, int, str]:
    """Run ``argv``: (wall seconds, CPU seconds, peak RSS in bytes, stdout)."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.DEVNULL, cwd=cwd)
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own CPU time and peak memory
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped: Popen must not wait again
        wall = time.perf_counter() - started
        out.seek(0)
        text = out.read().decode()
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024, text


def mrkcheck(args: list[str], backend: str, symmetry: bool) -> dict:
    """One check in a process of its own (see :func:`child`): its JSON statistics, the CPU and
    wall time of the check, the resident memory its search loop added, and the whole process's
    CPU time and peak memory; for a large one, the memory its search loop allocated (another
    process, see :func:`allocated_child`)."""
    argv = [*args, "--backend", backend, "--no-liveness", "--no-independence", "--quiet"]
    argv += ["--symmetry"] if symmetry else []
    wall, cpu, rss, measured = run_child("--child", argv)
    if measured["distinct"] >= PER_STATE_FROM and backend == "vectorised":  # see the docstring
        measured.update(run_child("--allocated", argv)[3])
    return {"process_wall": wall, "process_cpu": cpu, "process_rss": rss, **measured}


def run_child(role: str, argv: list[str]) -> tuple[float, float, int, dict]:
    """This script run as ``--child`` or ``--allocated`` on ``argv``: what :func:`run` measures,
    and the JSON line the child prints last."""
    wall, cpu, rss, out = run([sys.executable, __file__, role, json.dumps(argv)])
    return wall, cpu, rss, json.loads(out.strip().splitlines()[-1])


def child(argv: list[str]) -> None:
    """Check ``argv`` three times in this process: twice with ``--max-states 1`` (imports; then
    the setup: model build, symmetry check, compilation), then in full, the kernel's record of
    peak resident memory reset as its search loop starts (``/proc/self/clear_refs``); print one
    JSON line."""
    import contextlib
    import io
    import resource

    from mrkcheck.cli import main as cli

    def cpu() -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stdout(io.StringIO()):
        summary = Path(tmp) / "summary.json"
        setup = ["check", *argv, "--max-states", "1", "--allow-incomplete"]
        cli(setup)  # imports, caches
        cpu0 = cpu()
        cli(setup)  # model build, symmetry check, compilation: the check less its search
        setup_cpu = cpu() - cpu0
        resident = _around_search_loop(_resident_growth)
        cpu0, wall0 = cpu(), time.perf_counter()
        code = cli(["check", *argv, "--json", str(summary)])
        check_cpu, check_wall = cpu() - cpu0, time.perf_counter() - wall0
        stats = json.loads(summary.read_text())["stats"]
    measured = {"exit": code, "cpu": check_cpu, "setup": setup_cpu, "wall": check_wall}
    print(json.dumps({**measured, "resident": max(resident), **stats}))


def _around_search_loop(measure: Callable[[], Callable[[], int]]) -> list[int]:
    """Wrap each backend's search loop (what follows its setup: code generation and symmetry
    tables are fixed costs, not per-state ones) with ``measure``, called as the loop starts; what
    it returns is called as the loop ends, and its figures are appended to the list returned.
    A benchmark may reach inside."""
    from mrkcheck.check import explicit, vectorised

    figures: list[int] = []

    def measured(loop: Callable[..., Any]) -> Callable[..., Any]:
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            ended = measure()
            try:
                return loop(*args, **kwargs)
            finally:
                figures.append(ended())

        return wrapped

    explicit._explore = measured(explicit._explore)  # type: ignore[assignment]
    vectorised._Engine.run = measured(vectorised._Engine.run)  # type: ignore[method-assign]
    return figures


def _resident_growth() -> Callable[[], int]:
    """From now on, how far resident memory rises above its present level (peak reset now)."""
    start = _reset_peak()
    return lambda: _status("VmHWM") - start


def _allocation_growth() -> Callable[[], int]:
    """From now on, how far memory allocated (``tracemalloc``) rises above what is held now."""
    import tracemalloc

    held = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    return lambda: tracemalloc.get_traced_memory()[1] - held


def allocated_child(argv: list[str]) -> None:
    """Check ``argv`` in full under ``tracemalloc`` (numpy reports its arrays to it) and print
    the most memory the search loop held at once beyond what was held when it began, in bytes."""
    import contextlib
    import io
    import tracemalloc

    from mrkcheck.cli import main as cli

    peaks = _around_search_loop(_allocation_growth)
    with contextlib.redirect_stdout(io.StringIO()):
        tracemalloc.start()
        cli(["check", *argv])
        tracemalloc.stop()
    print(json.dumps({"allocated": max(peaks)}))


def _reset_peak() -> int:
    """Reset the kernel's record of peak resident memory; the resident memory now."""
    Path("/proc/self/clear_refs").write_text("5")
    return _status("VmRSS")


def _status(field: str) -> int:
    """A memory figure of this process from /proc/self/status, in bytes."""
    match = re.search(rf"{field}:\s+(\d+) kB", Path("/proc/self/status").read_text())
    assert match is not None, field
    return int(match.group(1)) * 1024


def measure(name: str, args: list[str], symmetry: bool, backend: str) -> dict:
    m = mrkcheck(args, backend, symmetry)
    search = max(m["cpu"] - m["setup"], 1e-3)
    row = {
        "case": name,
        "backend": backend,
        "symmetry": symmetry,
        "exit": m["exit"],
        "distinct": m["distinct"],
        "generated": m["generated"],
        "depth": m["depth"],
        "process_cpu_s": round(m["process_cpu"], 2),
        "check_wall_s": round(m["wall"], 2),
        "check_cpu_s": round(m["cpu"], 2),
        "search_cpu_s": round(search, 2),
        "generated_per_s": round(m["generated"] / search),
        "peak_mib": round(m["process_rss"] / 2**20, 1),
        "bytes_per_state": round(m["resident"] / max(m["distinct"], 1), 1),
    }
    if "allocated" in m:
        row["allocated_bytes_per_state"] = round(m["allocated"] / m["distinct"], 1)
    print(json.dumps(row), flush=True)
    return row


# --- Spin -------------------------------------------------------------------------------------


def whole_process(args: list[str], backend: str) -> dict:
    """``mrkcheck check`` as a user runs it: the whole process's CPU time, start-up included."""
    with tempfile.TemporaryDirectory() as tmp:
        summary = Path(tmp) / "summary.json"
        argv = [sys.executable, "-m", "mrkcheck", "check", *args, "--backend", backend]
        argv += ["--no-liveness", "--no-independence", "--quiet", "--json", str(summary)]
        _, cpu, _, _ = run(argv, cwd=Path(tmp))
        return {"cpu": cpu, **json.loads(summary.read_text())["stats"]}


def build_pan(regions: int, key_sets: int, work: Path) -> dict:
    """``spin -a`` and gcc, timed apart; the pan binary is left in ``work``."""
    model = work / "MultiRegionKeys.pml"
    shutil.copy(PEERS / "MultiRegionKeys.pml", model)
    _, spin_cpu, _, _ = run(["spin", "-a", f"-DNR={regions}", f"-DNK={key_sets}", model.name], work)
    gcc = ["gcc", "-O2", "-DSAFETY", "-DBFS", "-DMEMLIM=16000", "-o", "pan", "pan.c"]
    _, gcc_cpu, _, _ = run(gcc, work)
    return {"spin_a_cpu_s": round(spin_cpu, 2), "gcc_cpu_s": round(gcc_cpu, 2)}


def run_pan(work: Path, width: int) -> dict:
    wall, cpu, rss, out = run(["./pan", f"-w{width}"], work)
    stored = re.search(r"(\d+) states, stored", out)
    transitions = re.search(r"(\d+) transitions", out)
    return {
        "cpu": cpu,
        "wall": wall,
        "rss": rss,
        "stored": int(stored.group(1)) if stored else None,
        "transitions": int(transitions.group(1)) if transitions else None,
    }


def spin_pairs(backends: tuple[str, ...]) -> list[dict]:
    """mrkcheck and pan alternating on each peer instance; CPU ratios per pair."""
    if shutil.which("spin") is None or shutil.which("gcc") is None:
        print("spin or gcc not found (apt-get install -y spin): Spin comparison skipped")
        return []
    rows = []
    for regions, key_sets, width in SPIN_CASES:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            compiled = build_pan(regions, key_sets, work)
            args = ["peer", "--regions", str(regions), "--key-sets", str(key_sets)]
            for backend in backends:
                ours, theirs = [], []
                for _ in range(PAIRS):
                    ours.append(whole_process([*args, "--no-deadlock"], backend))
                    theirs.append(run_pan(work, width))
                ratios = [o["cpu"] / t["cpu"] for o, t in zip(ours, theirs, strict=True)]
                row = {
                    "case": f"peer {regions}x{key_sets}",
                    "backend": backend,
                    "mrkcheck_cpu_s": [round(o["cpu"], 2) for o in ours],
                    "spin_cpu_s": [round(t["cpu"], 2) for t in theirs],
                    "ratio_min": round(min(ratios), 2),
                    "ratio_median": round(statistics.median(ratios), 2),
                    "ratio_max": round(max(ratios), 2),
                    "mrkcheck_distinct": ours[0]["distinct"],
                    "mrkcheck_generated": ours[0]["generated"],
                    "spin_stored": theirs[0]["stored"],
                    "spin_transitions": theirs[0]["transitions"],
                    "spin_peak_mib": round(theirs[0]["rss"] / 2**20, 1),
                    **compiled,
                }
                print(json.dumps(row), flush=True)
                rows.append(row)
    return rows


# --- output -------------------------------------------------------------------------------------


def markdown(rows: list[dict], spin: list[dict], meta: dict) -> str:
    lines = [
        f"Taken {meta['date']} on {meta['cpus']} cores ({meta['load']}); Python {meta['python']}.",
        "",
        "| case | backend | symmetry | distinct | generated | depth | check wall s | check CPU s "
        "| search CPU s | process CPU s | generated/s (search CPU) | peak MiB | B/state resident "
        "| B/state allocated |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        big = r["distinct"] >= PER_STATE_FROM
        rate = f"{r['generated_per_s']:,}" if big else "–"
        per_state = r["bytes_per_state"] if big else "–"
        allocated = r.get("allocated_bytes_per_state", "–") if big else "–"
        lines.append(
            f"| {r['case']} | {r['backend']} | {'yes' if r['symmetry'] else 'no'} | "
            f"{r['distinct']:,} | {r['generated']:,} | {r['depth']} | {r['check_wall_s']} | "
            f"{r['check_cpu_s']} | {r['search_cpu_s']} | {r['process_cpu_s']} | {rate} | "
            f"{r['peak_mib']} | {per_state} | {allocated} |"
        )
    if spin:
        lines += [
            "",
            "| Spin vs mrkcheck | backend | mrkcheck CPU s | Spin CPU s | ratio min / median / max "
            "| Spin stored / transitions | spin -a + gcc CPU s |",
            "|---|---|---|---|---|---|---:|",
        ]
        for r in spin:
            lines.append(
                f"| {r['case']} | {r['backend']} | {', '.join(map(str, r['mrkcheck_cpu_s']))} | "
                f"{', '.join(map(str, r['spin_cpu_s']))} | {r['ratio_min']} / "
                f"{r['ratio_median']} / {r['ratio_max']} | {r['spin_stored']:,} / "
                f"{r['spin_transitions']:,} | {r['spin_a_cpu_s'] + r['gcc_cpu_s']:.2f} |"
            )
    return "\n".join(lines) + "\n"


def _selection(quick: bool, largest: bool) -> Callable[[str, bool], bool]:
    """Which cases (by name and quick flag) a run measures."""
    if largest:
        return lambda name, _quick: name == LARGEST
    return lambda _name, is_quick: is_quick or not quick


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="the small cases only, no Spin")
    parser.add_argument(
        "--largest", action="store_true", help=f"only the largest instance ({LARGEST}), no Spin"
    )
    parser.add_argument(
        "--backend", choices=BACKENDS, action="append", help="only this backend (repeatable)"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)  # one measured check (internal)
    parser.add_argument("--allocated", help=argparse.SUPPRESS)  # one traced check (internal)
    args = parser.parse_args()
    if args.child:
        child(json.loads(args.child))
        return
    if args.allocated:
        allocated_child(json.loads(args.allocated))
        return
    backends = tuple(args.backend or BACKENDS)
    wanted = _selection(args.quick, args.largest)
    load = os.getloadavg()[0]
    rows = [
        measure(name, case_args, symmetry, backend)
        for name, case_args, symmetry, quick in CASES
        if wanted(name, quick)
        for backend in backends
    ]
    rows += [
        measure(name, case_args, symmetry, "vectorised")
        for name, case_args, symmetry, _ in VECTORISED_ONLY
        if wanted(name, False) and "vectorised" in backends
    ]
    spin = [] if args.quick or args.largest else spin_pairs(backends)
    meta = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load": f"load average {load:.1f} at the start, {os.getloadavg()[0]:.1f} at the end",
        "quick": args.quick,
    }
    RESULTS.mkdir(exist_ok=True)
    name = "suite-quick" if args.quick else "suite-largest" if args.largest else "suite"
    payload = {"meta": meta, "rows": rows, "spin": spin}
    (RESULTS / f"{name}.json").write_text(json.dumps(payload, indent=2) + "\n")
    (RESULTS / f"{name}.md").write_text(markdown(rows, spin, meta))
    print(f"wrote {RESULTS / name}.json and .md")


if __name__ == "__main__":
    main()
