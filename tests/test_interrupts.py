"""Ctrl-C, SIGTERM and lack of memory at any moment: exit 130 or 16, no traceback, and what was
found so far printed and written.

The commands run as child processes (``python -m mrkcheck``, which handles signals before it
loads anything). Before our first line runs the interpreter is starting up, and a signal then
ends it as it ends any Python program (README, "Exit codes"); so each delay starts once the child
catches SIGTERM, which Python itself never does: the first thing ``mrkcheck.__main__`` does. The
delays come from a seeded RNG; some fall in the first half second (start-up, model building),
the others in the search.
"""

from __future__ import annotations

import gc
import json
import os
import pty
import random
import resource
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from mrkcheck import interrupts
from mrkcheck.check import explicit
from mrkcheck.check.result import EXIT_INTERRUPTED, EXIT_OUT_OF_MEMORY, INTERRUPTED
from mrkcheck.examples import twophase

RNG = random.Random(20240610)
EARLY = [round(RNG.uniform(0.0, 0.4), 2) for _ in range(2)]  # start-up and model building
LATER = [round(RNG.uniform(0.4, 2.4), 2) for _ in range(2)]  # in the search (or a run)


def _start(args: list[str], cwd: Path, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "mrkcheck", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=kwargs.pop("stderr", subprocess.PIPE),
        **kwargs,
    )


def _wait_until_it_catches_sigterm(proc: subprocess.Popen) -> None:
    """Wait for the child to catch SIGTERM (bit 15 of SigCgt in /proc/<pid>/status)."""
    mask = 1 << (signal.SIGTERM - 1)
    while proc.poll() is None:
        with open(f"/proc/{proc.pid}/status") as status:
            caught = next(line for line in status if line.startswith("SigCgt:"))
        if int(caught.split()[1], 16) & mask:
            return
        time.sleep(0.001)


def _interrupt_after(args: list[str], delay: float, cwd: Path, sig=signal.SIGINT):
    proc = _start(args, cwd)
    _wait_until_it_catches_sigterm(proc)
    time.sleep(delay)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    return proc.returncode, out.decode(), err.decode()


def _assert_interrupted(code: int, out: str, err: str) -> str:
    assert code == EXIT_INTERRUPTED, (out, err)
    assert "Traceback" not in err and "Traceback" not in out
    lines = [line for line in err.splitlines() if line.startswith("mrkcheck: interrupted during")]
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize("delay", EARLY + LATER)
def test_check_interrupted_at_any_moment(tmp_path, delay):
    args = ["check", "kms", "--regions", "4", "--no-liveness", "--json", "out.json"]
    code, out, err = _interrupt_after(args, delay, tmp_path)
    message = _assert_interrupted(code, out, err)
    if "safety search" in message:  # the search had started: its statistics so far
        assert "distinct states" in out and "search stopped early (interrupted)" in out
        summary = json.loads((tmp_path / "out.json").read_text())
        assert summary["stopped"] == "interrupted" and summary["exit_code"] == EXIT_INTERRUPTED


@pytest.mark.parametrize("delay", EARLY + LATER)
def test_prove_interrupted_at_any_moment(tmp_path, delay):
    code, out, err = _interrupt_after(["prove", "kms", "--depth", "14"], delay, tmp_path)
    message = _assert_interrupted(code, out, err)
    if "BMC depth" in message:  # Z3 was stopped: the depths finished before are printed
        assert "bounded model checking: depth" in out and "(interrupted)" in out


@pytest.mark.parametrize("delay", EARLY + LATER)
def test_conform_interrupted_at_any_moment(tmp_path, delay):
    pytest.importorskip("moto")
    args = ["conform", "--in-process", "--runs", "1000", "--json", "report.json"]
    code, out, err = _interrupt_after(args, delay, tmp_path)
    message = _assert_interrupted(code, out, err)
    if "conformance run" in message:  # the report of the runs finished before
        assert out.startswith("conform: ")
        report = json.loads((tmp_path / "report.json").read_text())
        assert report["exit_code"] == EXIT_INTERRUPTED and report["cut"] in message


def test_sigterm_is_an_interrupt(tmp_path):
    args = ["check", "kms", "--regions", "4", "--no-liveness"]
    code, out, err = _interrupt_after(args, 1.5, tmp_path, signal.SIGTERM)
    _assert_interrupted(code, out, err)


def _read_until(fd: int, marker: bytes, timeout: float) -> bytes:
    """What the child wrote on its terminal until ``marker`` appeared (or the time ran out)."""
    seen = b""
    end = time.monotonic() + timeout
    while marker not in seen and time.monotonic() < end:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                seen += os.read(fd, 4096)
            except OSError:  # the child closed its terminal
                break
    return seen


def test_sigint_during_liveness_keeps_the_safety_verdicts(tmp_path):
    """stderr is a terminal, so the progress says when liveness has started."""
    main_fd, child_fd = pty.openpty()
    args = ["check", "kms", "--json", "out.json", "--junit", "junit.xml"]
    proc = _start(args, tmp_path, stderr=child_fd)
    os.close(child_fd)
    progress = _read_until(main_fd, b"liveness:", timeout=60)
    assert b"liveness:" in progress, progress
    proc.send_signal(signal.SIGINT)
    out = proc.communicate(timeout=60)[0].decode()
    err = (progress + _read_until(main_fd, b"\x00", timeout=2)).decode(errors="replace")
    os.close(main_fd)
    assert proc.returncode == EXIT_INTERRUPTED and "Traceback" not in err
    assert "interrupted during liveness" in err
    assert "HOLDS     always    one_primary_per_key_set" in out and "liveness stopped early" in out
    summary = json.loads((tmp_path / "out.json").read_text())
    status = {p["name"]: (p["kind"], p["status"]) for p in summary["properties"]}
    assert status["one_primary_per_key_set"] == ("always", "holds")
    assert {s for kind, s in status.values() if kind == "eventually"} == {"unknown"}
    assert summary["cut_phase"] == "liveness" and summary["exit_code"] == EXIT_INTERRUPTED
    junit = (tmp_path / "junit.xml").read_text()
    assert 'name="one_primary_per_key_set" time="0" />' in junit  # passed: no child element
    assert "liveness" in junit.split('name="creating_completes"', 1)[1].split("</testcase>")[0]


def _limit_memory() -> None:
    # Address space, not resident memory: starting and compiling the model reach about 100 MB
    # (110 MB left compiling short of memory now and then: zero states explored); 200,000 states
    # of the 4-Region search over 200 MB.
    resource.setrlimit(resource.RLIMIT_AS, (130 << 20, 130 << 20))


def test_out_of_memory_keeps_the_statistics(tmp_path):
    args = ["check", "kms", "--regions", "4", "--no-liveness", "--json", "out.json"]
    proc = _start(args, tmp_path, preexec_fn=_limit_memory)
    out, err = (text.decode() for text in proc.communicate(timeout=120))
    assert proc.returncode == EXIT_OUT_OF_MEMORY, (out, err)
    assert "Traceback" not in err and "out of memory during safety search" in err
    assert "distinct states" in out and "search stopped early (out_of_memory)" in out
    summary = json.loads((tmp_path / "out.json").read_text())
    assert summary["stopped"] == "out_of_memory" and summary["stats"]["distinct"] > 0


def test_a_cut_while_the_model_compiles_still_has_statistics(monkeypatch):
    """Ctrl-C before the first state: the result says interrupted, with zero statistics."""

    def interrupted_compile(model):
        raise KeyboardInterrupt

    monkeypatch.setattr(explicit, "compile_model", interrupted_compile)
    result = explicit.check(twophase.build(rm=2))
    assert result.stopped == INTERRUPTED and result.cut_phase == "safety search"
    assert (result.stats.distinct, result.stats.generated) == (0, 0)
    assert {r.status for r in result.properties} == {"unknown"}


def _pigeonhole(z3, solver, holes: int) -> None:
    """holes + 1 pigeons in ``holes`` holes: unsat, and hard for Z3 from about 11 holes on."""
    pigeons = range(holes + 1)
    at = [[z3.Bool(f"p{p}h{h}") for h in range(holes)] for p in pigeons]
    for p in pigeons:
        solver.add(z3.Or(at[p]))
    for h in range(holes):
        for p in pigeons:
            for q in range(p):
                solver.add(z3.Or(z3.Not(at[p][h]), z3.Not(at[q][h])))


class _CountedContext:
    """A Z3 context that tells the test when it has been interrupted at least once."""

    def __init__(self, context):
        self.context = context
        self.interrupted = threading.Event()

    def interrupt(self) -> None:
        self.context.interrupt()
        self.interrupted.set()


def test_an_interrupt_before_the_solver_starts_still_stops_it():
    """Z3 drops an interrupt sent before its check begins (the cause of a rare hang of prove
    after Ctrl-C): the watcher repeats it until the registered call has returned."""
    z3 = pytest.importorskip("z3")
    solver = z3.Solver()
    solver.set("timeout", 20_000)  # lost interrupts: a timeout, reason "timeout" or "canceled"
    _pigeonhole(z3, solver, 12)
    context = _CountedContext(solver.ctx)
    with interrupts.handled(), interrupts.stoppable(context):
        watcher = threading.Thread(target=interrupts._interrupt_running_call, daemon=True)
        watcher.start()
        assert context.interrupted.wait(60)  # interrupted before the check has begun
        answer = solver.check()
    watcher.join(60)
    assert answer == z3.unknown and solver.reason_unknown() == "interrupted"
    assert not watcher.is_alive()  # it stops once the call has returned


def test_a_signal_in_a_garbage_collector_callback_is_owed_not_raised():
    """Python prints an exception raised in a gc callback as a traceback and drops it, and
    Hypothesis (conform, simulate) registers one: a signal that lands there is owed."""
    seen: list[bool] = []

    def callback(phase: str, info: dict) -> None:
        seen.append(interrupts._unsafe_to_raise(sys._getframe()))

    gc.callbacks.append(callback)
    try:
        gc.collect()
    finally:
        gc.callbacks.remove(callback)
    assert seen and all(seen)
    assert not interrupts._unsafe_to_raise(sys._getframe())
