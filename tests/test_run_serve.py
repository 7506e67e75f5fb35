"""``mrkcheck run`` (issue 14, item 6) against ``mrkcheck serve`` (issue 13), over a real socket.

The gallery's failover runbooks are run on the server through boto3, in each transients mode
where the outcome says something: the recorded run must be a run of the model (``mrkcheck trace
check``), a served mutant must be caught at its first divergent step, and the naive failover must
fail on ``--transients adversarial`` with the very call the model checker's counterexample ends
with. Each test starts and stops its own server (``serve_helpers.serving``: 127.0.0.1, a free
port)."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from serve_helpers import control, serving

from mrkcheck.check.checker import Checker
from mrkcheck.cli import main
from mrkcheck.model import workflow as wf
from mrkcheck.traces.itf import read_itf

GALLERY = Path(__file__).resolve().parent.parent / "examples" / "workflows"
FAILOVER, NAIVE = str(GALLERY / "failover.py"), str(GALLERY / "failover_naive.py")


def run(url: str, workflow: str, out: Path, *extra: str) -> int:
    """``mrkcheck run --workflow W --endpoint-url URL -o OUT``, its exit code."""
    return main(["run", "--workflow", workflow, "--endpoint-url", url, "-o", str(out), *extra])


def last_label(path: Path, workflow: str) -> str:
    """The label of the last step of a trace file written for ``workflow``."""
    trace = read_itf(path, wf.build(workflow=workflow).schema)
    return trace.label(len(trace))


def test_failover_on_fast_transients_is_a_run_of_the_model(tmp_path, capsys):
    """Both records of the session, the client's and the server's, are runs of the model."""
    out, served = tmp_path / "out.itf.json", tmp_path / "served.itf.json"
    with serving(transients="fast") as (url, _):
        assert run(url, FAILOVER, out) == 0
        served.write_text(json.dumps(control(url, "trace")))
    printed = capsys.readouterr().out
    assert "failover: ScheduleKeyDeletion(s=k1, r=us-east-1) -> success" in printed
    assert "the trace is a run of the model" in printed
    assert main(["trace", "check", str(out)]) == 0
    assert main(["trace", "check", str(served)]) == 0
    assert "UpdatePrimaryRegion" in served.read_text()  # the server saw the failover


def test_failover_waits_out_adversarial_updating(tmp_path, capsys):
    """The fixed runbook polls through the held Updating state and then succeeds."""
    out = tmp_path / "out.itf.json"
    with serving(transients="adversarial", delay=1.0) as (url, _):
        assert run(url, FAILOVER, out, "--interval", "0.2") == 0
    printed = capsys.readouterr().out
    assert "failover: DescribeKey(s=k1, r=us-east-1) -> REPLICA/Updating" in printed
    assert "failover: ScheduleKeyDeletion(s=k1, r=us-east-1) -> success" in printed
    assert main(["trace", "check", str(out)]) == 0


def test_naive_failover_fails_on_adversarial_as_the_counterexample_says(tmp_path, capsys):
    """The model checker's shortest counterexample ends with a refused ScheduleKeyDeletion; the
    run on the adversarial server ends with the same refused call, and is a run of the model."""
    result = Checker(wf.build(workflow=NAIVE)).run()
    (violation,) = [r for r in result.violations if r.trace is not None]
    expected = violation.trace.label(len(violation.trace))
    assert "ScheduleKeyDeletion" in expected and "KMSInvalidStateException" in expected

    out = tmp_path / "out.itf.json"
    with serving(transients="adversarial", delay=2.0) as (url, _):
        assert run(url, NAIVE, out, "--interval", "0.2") == 12
    printed = capsys.readouterr().out
    assert f"the run violates {violation.name}" in printed
    assert last_label(out, NAIVE) == expected
    assert main(["trace", "check", str(out)]) == 0  # a run of the model, in which it fails
    assert f"its last state violates {violation.name}" in capsys.readouterr().out


def test_failover_on_manual_transients_finishes_when_the_test_takes_the_steps(tmp_path):
    """Nothing finishes on its own: the run waits for the replica to leave Creating and for the
    update to complete, and goes on when the test takes those steps (``/_mrkcheck/settle``)."""
    out, exits = tmp_path / "out.itf.json", []
    with serving(transients="manual") as (url, _):
        worker = threading.Thread(target=lambda: exits.append(run(url, FAILOVER, out)))
        worker.start()
        for transient in ("Creating", "Updating"):
            await_key_state(url, transient)
            assert control(url, "settle")["taken"]
        worker.join(60)
    assert exits == [0]
    assert main(["trace", "check", str(out)]) == 0


def await_key_state(url: str, key_state: str, polls: int = 600) -> None:
    """Poll the server's state until some key is in ``key_state`` (the run got that far)."""
    for _ in range(polls):
        keys = control(url, "state")["keys"]
        if any(r["KeyState"] == key_state for k in keys for r in k["Regions"].values()):
            return
        time.sleep(0.05)
    raise AssertionError(f"no key became {key_state}")


def test_naive_failover_passes_on_fast_transients(tmp_path):
    """Why the adversarial mode exists: with transients that end at once the trap is hidden."""
    with serving(transients="fast") as (url, _):
        assert run(url, NAIVE, tmp_path / "out.itf.json") == 0


def test_a_served_mutant_is_caught_at_its_first_divergent_step(tmp_path, capsys):
    """``promote_before_demote`` leaves the old primary PRIMARY and Enabled after
    UpdatePrimaryRegion: the failover's first poll sees what no state of the model shows."""
    out = tmp_path / "out.itf.json"
    with serving(mutant="promote_before_demote") as (url, _):
        assert run(url, FAILOVER, out) == 12
    first_wrong = "step 2: failover: DescribeKey(s=k1, r=us-east-1, saw=PRIMARY/Enabled, at=2)"
    assert f"{first_wrong} is not enabled" in capsys.readouterr().out
    assert main(["trace", "check", str(out)]) == 12
    assert f"{first_wrong} is not enabled" in capsys.readouterr().out
