"""Replay (is a trace a run of the model?) and the committed example counterexamples."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mrkcheck.check.explicit import check
from mrkcheck.check.result import Step
from mrkcheck.cli import main
from mrkcheck.examples.twophase import MUTANTS, build
from mrkcheck.traces.itf import write_itf
from mrkcheck.traces.replay import replay
from mrkcheck.traces.sample import random_run
from tools import gallery

MUTANT = MUTANTS[0]


def counterexample():
    return check(MUTANT.build()).result("TCConsistent").trace


@given(st.integers(1, 4), st.integers(0, 25), st.integers(0, 10_000), st.booleans())
@settings(max_examples=40, deadline=None)
def test_random_runs_replay(rm, length, seed, stutter):
    model = build(rm)
    verdict = replay(model, random_run(model, length, seed, stutter))
    assert verdict.ok, verdict.line()


def test_counterexample_is_a_run_of_the_mutant_not_of_the_model():
    trace = counterexample()
    assert replay(MUTANT.build(), trace).violates == ("TCConsistent", "TMCommitImpliesAllPrepared")
    verdict = replay(build(), trace)
    assert (verdict.ok, verdict.step) == (False, 1)
    assert "TMCommit() is not enabled" in verdict.reason
    assert "tmPrepared[rm1] /\\ tmPrepared[rm2] /\\ tmPrepared[rm3]" in verdict.reason


@pytest.mark.parametrize(
    ("edit", "step", "says"),
    [
        (lambda s: s.__setitem__(0, Step(None, (), s[1].state)), 0, "not an initial state"),
        (
            lambda s: s.__setitem__(3, Step("RMRcvCommitMsg", (("rm", "rm2"),), s[2].state)),
            3,
            "leads elsewhere: rmState[rm2]: the model gives committed, the trace has working",
        ),
        (lambda s: s.__setitem__(2, Step("Nope", (), s[2].state)), 2, "no action instance Nope()"),
        (
            lambda s: s.__setitem__(2, Step("RMPrepare", (("rm", "rm1"),), s[2].state)),
            2,
            "leads elsewhere: rmState[rm1]",
        ),
    ],
)
def test_first_wrong_step_is_named(edit, step, says):
    trace = counterexample()
    edit(trace.steps)
    verdict = replay(MUTANT.build(), trace)
    assert not verdict.ok
    assert verdict.step == step
    assert says in verdict.reason


def test_loop_must_close():
    model = build(2)
    trace = random_run(model, 6, seed=1)
    trace.loop = 0
    verdict = replay(model, trace)
    assert (verdict.ok, verdict.step) == (False, len(trace) + 1)  # the step after the last
    assert "back to state 0" in verdict.reason


def test_cli_exit_codes(tmp_path, capsys):
    path = tmp_path / "cx.itf.json"
    write_itf(counterexample(), path)
    assert main(["trace", "check", str(path)]) == 12  # the header names no mutant: real model
    out = capsys.readouterr().out
    assert "step 1: TMCommit() is not enabled" in out
    assert main(["trace", "check", str(path), "--mutant", "early_commit"]) == 0
    assert "its last state violates TCConsistent" in capsys.readouterr().out


def test_cli_set_overrides_options(tmp_path, capsys):
    path = tmp_path / "run.itf.json"
    write_itf(random_run(build(2), 5, seed=2), path)
    assert main(["trace", "check", str(path)]) == 0
    assert main(["trace", "check", str(path), "--set", "rm=3"]) == 150  # a 2-RM file, 3-RM model
    err = capsys.readouterr().err
    assert 'state 0, variable rmState: no value for key "rm3"' in err


# --- the committed examples -----------------------------------------------------------------------


def test_examples_are_up_to_date():
    """Regenerate every example into a temporary folder and compare bytes. If this fails, run
    `python -m tools.gallery` and commit the result."""
    assert gallery.stale() == []


def test_examples_replay_against_their_mutants(capsys):
    files = sorted(gallery.FOLDER.glob("*.itf.json"))
    assert files, "no examples"
    for path in files:
        doc = json.loads(path.read_text())
        assert doc["#meta"]["options"]["mutant"]
        assert main(["trace", "check", str(path)]) == 0, capsys.readouterr().out
        out = capsys.readouterr().out
        where = "the lasso" if "loop" in doc else "its last state"
        assert f"{where} violates {doc['#meta']['property']}" in out


def test_kms_traces_round_trip_replay_and_draw(tmp_path, capsys):
    """On the KMS model: a random run and a counterexample survive the file and replay."""
    kms = pytest.importorskip("mrkcheck.model.kms")
    from mrkcheck.traces.itf import read_itf
    from mrkcheck.traces.picture import choose_layout

    model = kms.build()
    run = random_run(model, 20, seed=5)
    path = tmp_path / "run.itf.json"
    write_itf(run, path)
    assert read_itf(path, model.schema) == run
    assert main(["trace", "check", str(path)]) == 0
    layout = choose_layout(model.schema, trace=run)
    assert (layout.colour.name, layout.marker.name) == ("key_state", "role")
    assert layout.lane_labels == tuple(model.universe("Region").elements)
    doc = json.loads(path.read_text())
    assert doc["states"][0]["key_state"]["#map"][0][0] == {"#tup": ["k1", "us-east-1"]}
