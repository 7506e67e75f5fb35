"""Workflows (issue 14): the gallery's verdicts, what a workflow step means in the model, the
command line and the project file, and user properties.

What a compiled workflow does is checked against two things it is not built from: the interpreted
``Scenario.call`` (the error a refused call returns) and ``observe.describe_key`` (the views
DescribeKey may return), on every reachable state of the 2-Region model."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mrkcheck.check.checker import Checker
from mrkcheck.check.compile import to_python
from mrkcheck.check.explicit import reachable
from mrkcheck.check.result import CheckResult, Trace
from mrkcheck.cli import main
from mrkcheck.lang.expr import evaluate
from mrkcheck.lang.model import Model
from mrkcheck.lang.scenario import Scenario
from mrkcheck.model import workflow as wf
from mrkcheck.model.kms import KmsOptions, declare
from mrkcheck.model.kms import build as build_kms
from mrkcheck.model.observe import describe_key
from mrkcheck.traces.replay import replay
from mrkcheck.traces.workflow_run import FIELD_CHOICES

REPO = Path(__file__).resolve().parent.parent
GALLERY = REPO / "examples" / "workflows"


def check(source: str | Path, **options) -> CheckResult:
    model = wf.build(workflow=str(source), **options)
    return Checker(model).run()


def violated(result: CheckResult) -> dict[str, int]:
    """Each violated property and the length of its counterexample."""
    return {r.name: len(r.trace) for r in result.violations if r.trace is not None}


# --- the gallery ----------------------------------------------------------------------------------

# file, exit code, {violated property: counterexample length}, the last step of the safety ones
VERDICTS = [
    (
        "failover_naive.py",
        12,
        {"failover.no_unexpected_failure": 3},
        "failover: ScheduleKeyDeletion(s=k1, r=us-east-1, at=3, error=KMSInvalidStateException)",
    ),
    ("failover.py", 0, {}, None),
    (
        "replicate_then_encrypt.py",
        12,
        {"replicate_then_encrypt.no_unexpected_failure": 2},
        "replicate_then_encrypt: Encrypt(s=k1, r=eu-west-1, at=2, error=KMSInvalidStateException)",
    ),
    ("delete_primary_naive.py", 13, {"delete_primary_naive.finishes": 1}, None),
    ("delete_primary.py", 0, {}, None),
    (
        "rotation_status.py",
        12,
        {"rotation_status.assertions": 2},
        "rotation_status: DescribeKey(s=k1, r=eu-west-1, saw=REPLICA/Enabled/rotation off, at=2)",
    ),
    ("rotation_status_wait.py", 0, {}, None),
    (
        "two_operators.py",
        12,
        {"promote_eu.no_unexpected_failure": 2, "promote_ap.no_unexpected_failure": 2},
        "UpdatePrimaryRegion(s=k1, r=us-east-1, primary=",
    ),
    (
        "failover_watch_replica.py",
        12,
        {"failover_watch_replica.assertions": 3},
        "failover_watch_replica: DescribeKey(s=k1, r=eu-west-1, saw=PRIMARY/Updating, at=3)",
    ),
]


@pytest.mark.parametrize(("name", "code", "found", "last"), VERDICTS, ids=[v[0] for v in VERDICTS])
def test_each_runbook_gets_the_verdict_its_docstring_states(name, code, found, last):
    result = check(GALLERY / name)
    assert result.exit_code == code
    assert violated(result) == found
    stated = re.search(r"\(exit (\d+)", (GALLERY / name).read_text().split('"""')[1])
    assert stated is not None and int(stated.group(1)) == code
    for r in result.violations:
        assert r.trace is not None
        assert replay(wf.build(workflow=str(GALLERY / name)), r.trace).ok
        if last is not None:  # the last step is the failing call or observation, labelled
            assert last in r.trace.steps[-1].label
            error = re.search(r"error=(\w+)", r.trace.steps[-1].label)
            assert error is None or error.group(1) in (GALLERY / name).read_text()


def test_the_fixed_failover_passes_alongside_an_application_and_not_with_any_actor():
    app = str(GALLERY / "encrypt_app.py")
    alongside = check(GALLERY / "failover.py", others=app)
    assert alongside.exit_code == 0
    assert alongside.stats.distinct > check(GALLERY / "failover.py").stats.distinct
    anyone = wf.build(workflow=str(GALLERY / "failover.py"), others="any", regions=2)
    result = Checker(anyone).liveness(False).run()
    assert violated(result) == {"failover.no_unexpected_failure": 2, "failover.assertions": 6}
    assert any(
        not step.action.startswith("failover:") for step in result.violations[0].trace.steps[1:]
    )


def test_two_copies_of_one_runbook_collide():
    result = check(GALLERY / "failover.py", copies=2)
    assert violated(result)["failover.no_unexpected_failure"] == 2
    labels = [s.label for s in result.violations[0].trace.steps[1:]]
    assert {label.split(":")[0] for label in labels} == {"failover#1", "failover#2"}


# --- what a step means: the model's own predictions -----------------------------------------------


def _kms_state(model: Model, state: tuple[int, ...], base: Model) -> tuple[int, ...]:
    return state[: base.schema.width]


def test_every_counterexample_step_is_what_the_model_predicts():
    """Each call's outcome in a counterexample is ``Scenario.call``'s prediction on the KMS model;
    each observation is one of ``describe_key``'s views."""
    base = build_kms()
    for name, code, _, _ in VERDICTS:
        if code != 12:
            continue
        model = wf.build(workflow=str(GALLERY / name))
        for r in Checker(model).run().violations:
            _agrees(r.trace, model, base)


def _agrees(trace: Trace, model: Model, base: Model) -> None:
    for before, step in zip(trace.steps, trace.steps[1:], strict=False):
        state = _kms_state(model, before.state, base)
        if step.action is None or ": " not in step.action:
            continue
        action = step.action.split(": ", 1)[1]
        params = dict(step.params)
        if action == "DescribeKey":
            views = describe_key(base, state, params["s"], params["r"])
            labels = {
                _as_view(v, base, state, params).describe(fields)
                for v in views
                for fields in FIELD_CHOICES
            }
            assert params["saw"] in (labels or {wf.NOT_FOUND_VIEW})
            continue
        call = {k: v for k, v in params.items() if k not in ("at", "error", "retry")}
        assert Scenario(base, state).call(action, **call) == params.get("error")


def _as_view(view: dict, base: Model, state: tuple[int, ...], params: dict) -> wf.View:
    """describe_key's view with GetKeyRotationStatus as docs/semantics.md says: refused for
    imported material (fn6/fn7), false while pending deletion (§6), else the key's flag."""
    values = base.decode(state)
    key = (params["s"], params["r"])
    rotation: bool | None = values["rotation"][key] == "true"
    if view["KeyState"] in ("PendingDeletion", "PendingReplicaDeletion"):
        rotation = False
    if values["origin"][(params["s"],)] == "EXTERNAL":
        rotation = None
    conf = view["MultiRegionConfiguration"]
    primary = conf["PrimaryKey"]["Region"]
    return wf.View(params["r"], view["KeyState"], conf["MultiRegionKeyType"], rotation, primary)


@pytest.fixture(scope="module")
def two_regions():
    base = build_kms(regions=2)
    return base, declare(KmsOptions(regions=2))[1], list(reachable(base))


def _compiled(expr):
    return eval(f"lambda s: {to_python(expr)}")  # noqa: S307 - our own generated source


def test_a_poll_sees_exactly_the_views_describe_key_allows(two_regions):
    """Every view (type, state, rotation, PrimaryKey Region) and every projection of them a
    poll splits on, on every reachable state of the 2-Region model."""
    base, kms, states = two_regions
    for r in kms.Region:
        views = wf.candidate_views(r, kms.Region.elements)
        full = [(v, _compiled(wf.view_allowed(kms, "k1", v))) for v in views]
        projected = {
            fields: [(v, _compiled(wf.view_allowed(kms, "k1", v, fields))) for v in views]
            for fields in FIELD_CHOICES
        }
        for state in states:
            documented = {
                _as_view(v, base, state, {"s": "k1", "r": r})
                for v in describe_key(base, state, "k1", r)
            }
            seen = {v for v, allowed in full if allowed(state)}
            assert {v.describe() for v in seen} == (
                {v.describe() for v in documented} or {wf.NOT_FOUND_VIEW}
            )
            for fields, conditions in projected.items():
                shown = {v.describe(fields) for v, allowed in conditions if allowed(state)}
                assert shown == {v.describe(fields) for v in seen}


def test_a_call_has_exactly_one_outcome_the_one_scenario_predicts(two_regions):
    base, kms, states = two_regions
    compiler = wf._Compiler(base, kms, None, wf.Workflow("w"))  # type: ignore[arg-type]
    api = [i for i in base.instances if not i.environment]
    outcomes = {i.label: compiler._outcomes(i) for i in api}
    for state in states[::3]:
        for inst in api:
            refused = inst.refusal(state)
            fired = [e for e, cond in outcomes[inst.label] if evaluate(cond, state)]
            if refused is None:
                assert fired == [] and evaluate(inst.enabled, state)
            else:
                assert fired == [refused.error or "refused"]


# --- the language: retries, bounded waits, errors -------------------------------------------------

START = '["CreateKey(r=us-east-1, origin=AWS_KMS)"]'


def runbook(tmp_path: Path, body: str, name: str = "runbook.py") -> Path:
    text = (
        "from mrkcheck.model.workflow import END, NEXT, RETRY, Workflow, workflow\n\n"
        f"@workflow(start={START})\ndef book(w: Workflow) -> None:\n"
        + "".join(f"    {line}\n" for line in body.strip().splitlines())
    )
    path = tmp_path / name
    path.write_text(text)
    return path


def test_retrying_a_refused_call_until_it_succeeds_passes(tmp_path):
    path = runbook(
        tmp_path,
        """
w.call("ReplicateKey", r="us-east-1", replica="eu-west-1")
w.call("Encrypt", r="eu-west-1", on={"KMSInvalidStateException": RETRY})
""",
    )
    assert check(path).exit_code == 0


def test_bounded_retries_and_bounded_waits_can_run_out(tmp_path):
    retries = runbook(
        tmp_path,
        """
w.call("ReplicateKey", r="us-east-1", replica="eu-west-1")
w.call("Encrypt", r="eu-west-1", on={"KMSInvalidStateException": RETRY}, attempts=2)
""",
        "retries.py",
    )
    result = check(retries)
    assert violated(result) == {"book.no_unexpected_failure": 3}
    assert [("retry", "yes") in s.params for s in result.violations[0].trace.steps[1:]] == [
        False,
        True,
        False,
    ]
    waits = runbook(
        tmp_path,
        """
w.call("ReplicateKey", r="us-east-1", replica="eu-west-1")
w.wait("eu-west-1", until=lambda v: v.enabled, polls=2)
""",
        "waits.py",
    )
    assert violated(check(waits)) == {"book.no_unexpected_failure": 3}
    handled = runbook(
        tmp_path,
        """
w.call("ReplicateKey", r="us-east-1", replica="eu-west-1")
w.label("poll")
w.wait("eu-west-1", until=lambda v: v.enabled, polls=2, on_timeout="poll")
w.call("Encrypt", r="eu-west-1")
""",
        "handled.py",
    )
    assert check(handled).exit_code == 0


def test_a_handled_error_can_branch_and_fail_is_an_assertion(tmp_path):
    path = runbook(
        tmp_path,
        """
w.call("ReplicateKey", r="us-east-1", replica="eu-west-1")
w.call("Encrypt", r="eu-west-1", on={"KMSInvalidStateException": "creating"})
w.end()
w.label("creating")
w.fail("the replica was still Creating")
""",
    )
    result = check(path)
    assert violated(result) == {"book.assertions": 3}
    pc = result.violations[0].trace.states()[-1]["book.pc"]
    assert pc == "failed: the replica was still Creating"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('w.call("Encrypt", r="mars-1")', "unknown Region 'mars-1'"),
        ('w.call("Encrypt", r="us-east-1", replica="eu-west-1")', "unknown call"),
        ('w.call("Encrypts", r="us-east-1")', "did you mean 'Encrypt'"),
        ('w.wait("eu-west-9", until=lambda v: v.enabled)', "unknown Region"),
        ('w.check("us-east-1", lambda v: v.nope, "x")', "fails on the view"),
        (
            'w.call("Encrypt", r="us-east-1", on={"KMSInvalidStateException": "nowhere"})',
            "unknown label",
        ),
        ('w.call("Encrypt", r="us-east-1", on={"KMSInvalidState": END})', "did you mean"),
        ("pass", "has no steps"),
        ("1 / 0", "fails while its steps are recorded: ZeroDivisionError"),
        ('w.call("CompleteCreate", r="us-east-1")', "a step KMS takes on its own"),
    ],
)
def test_a_bad_runbook_is_one_line_and_exit_150(tmp_path, capsys, body, message):
    path = runbook(tmp_path, body)
    assert main(["check", "--workflow", str(path)]) == 150
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_the_command_line_takes_a_file_a_file_and_name_and_writes_a_trace_that_replays(
    tmp_path, capsys
):
    naive = str(GALLERY / "failover_naive.py")
    assert main(["check", "--workflow", f"{naive}:failover", "--out", str(tmp_path)]) == 12
    out = capsys.readouterr().out
    assert (
        "failover: ScheduleKeyDeletion(s=k1, r=us-east-1, at=3, error=KMSInvalidStateException)"
        in out
    )
    (written,) = tmp_path.glob("*.itf.json")
    assert main(["trace", "check", str(written)]) == 0
    assert main(["check", "--workflow", f"{naive}:failovr"]) == 150
    assert main(["check", "--workflow", naive, "--others", "anyy"]) == 150
    assert "did you mean 'any'" in capsys.readouterr().err


# --- user properties, from a module or a project file ---------------------------------------------

PROPS = """
from mrkcheck import Invariant, count
from mrkcheck.model.rules import Role


def properties(k):
    return [
        Invariant(
            "at_most_one_primary",
            count(k.Region, lambda r: k.role["k1", r].eq(Role.PRIMARY)).le(1),
        ),
    ]
"""


def test_a_user_property_from_a_project_file_is_checked_and_a_mutant_breaking_it_caught(
    tmp_path, monkeypatch, capsys
):
    (tmp_path / "myprops.py").write_text(PROPS)
    (tmp_path / "mrkcheck.toml").write_text(
        '[instances.mine]\nproperties_from = "myprops.py"\nproperties = ["at_most_one_primary"]\n'
        "regions = 2\n\n"
        '[mutants.promote_before_demote]\nproperties_from = "myprops.py"\n'
        'breaks = "at_most_one_primary"\nregions = 2\n'
    )
    monkeypatch.chdir(tmp_path)
    assert main(["check", "--json", "report.json"]) == 0
    report = json.loads((tmp_path / "report.json").read_text())
    text = json.dumps(report)
    assert "at_most_one_primary" in text and "caught" in text
    # A property that does not hold is reported, not ignored.
    (tmp_path / "myprops.py").write_text(PROPS.replace(".le(1)", ".le(0)"))
    assert main(["check", "--instance", "mine"]) == 12


def test_properties_from_on_the_command_line(tmp_path, capsys):
    (tmp_path / "myprops.py").write_text(PROPS)
    props = str(tmp_path / "myprops.py")
    args = [
        "check",
        "--properties-from",
        props,
        "--regions",
        "2",
        "--property",
        "at_most_one_primary",
    ]
    assert main(args) == 0
    assert main([*args, "--mutant", "promote_before_demote"]) == 12
    (tmp_path / "bad.py").write_text("def properties(k):\n    return [1]\n")
    assert main(["check", "--properties-from", str(tmp_path / "bad.py")]) == 150


# --- the same workflow on an endpoint -------------------------------------------------------------


def test_a_run_on_a_conformant_endpoint_is_a_run_of_the_model(tmp_path, capsys):
    out = tmp_path / "run.itf.json"
    failover = str(GALLERY / "failover.py")
    assert main(["run", "--workflow", failover, "--against-mutant", "none", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "failover: ScheduleKeyDeletion(s=k1, r=us-east-1) -> success" in printed
    assert main(["trace", "check", str(out)]) == 0
    steps = json.loads(out.read_text())["states"]
    labels = [s["#meta"]["action"] for s in steps]
    assert "CompleteUpdate" in labels  # the endpoint's own step, explained by the model


def test_a_run_that_is_not_a_run_of_the_model_is_named_at_its_first_wrong_step(tmp_path, capsys):
    out = tmp_path / "run.itf.json"
    naive = str(GALLERY / "delete_primary_naive.py")
    args = ["run", "--workflow", naive, "-o", str(out)]
    assert main([*args, "--against-mutant", "no_pending_replica_deletion"]) == 12
    assert main(["trace", "check", str(out)]) == 12
    assert "step 2: delete_primary_naive: DescribeKey" in capsys.readouterr().out


def test_moto_diverges_on_the_naive_deletion(tmp_path, capsys):
    """moto 5.2.5 (pinned) shows the primary pending deletion at once, with its replica kept."""
    pytest.importorskip("moto")
    naive = str(GALLERY / "delete_primary_naive.py")
    assert main(["run", "--workflow", naive, "--in-process", "--key-ref", "id"]) == 12
    assert "PendingDeletion" in capsys.readouterr().out


def test_a_property_false_in_the_initial_state_is_violated_by_a_trace_of_no_step(tmp_path):
    """A 0-step trace is falsy (``len``): both engines must still call it a violation."""
    from mrkcheck.check.symbolic import bmc

    (tmp_path / "initially.py").write_text(PROPS.replace(".le(1)", ".ge(1)"))
    model = wf.build(properties_from=str(tmp_path / "initially.py"), regions=2)
    model = model.select(["at_most_one_primary"])
    result = Checker(model).run()
    assert result.exit_code == 12 and violated(result) == {"at_most_one_primary": 0}
    (symbolic,) = bmc(model, 1).properties
    assert symbolic.status == "violated" and len(symbolic.trace) == 0


def test_an_interrupted_run_is_written_and_is_a_run_of_the_model(tmp_path):
    """The naive deletion polls for ever on a conformant endpoint; Ctrl-C keeps the polls made."""
    out = tmp_path / "run.itf.json"
    naive = str(GALLERY / "delete_primary_naive.py")
    command = [sys.executable, "-m", "mrkcheck", "run", "--workflow", naive]
    command += ["--against-mutant", "none", "--interval", "0.05", "--max-steps", "100000"]
    proc = subprocess.Popen([*command, "-o", str(out)], stdout=subprocess.PIPE, text=True)
    time.sleep(3)  # started and polling by then (it never stops by itself)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 130
    assert main(["trace", "check", str(out)]) == 0
    assert len(json.loads(out.read_text())["states"]) > 2


def test_workflow_entries_of_a_project_file_with_junit_and_json(tmp_path, monkeypatch, capsys):
    (tmp_path / "runbooks").mkdir()
    for name in ("failover.py", "failover_naive.py"):
        (tmp_path / "runbooks" / name).write_text((GALLERY / name).read_text())
    (tmp_path / "mrkcheck.toml").write_text(
        '[workflows.fixed]\nworkflow = "runbooks/failover.py"\n\n'
        '[workflows.naive]\nworkflow = "runbooks/failover_naive.py"\n'
    )
    monkeypatch.chdir(tmp_path)
    assert main(["check", "--junit", "report.xml", "--json", "report.json"]) == 12
    out = capsys.readouterr().out
    assert re.search(r"PASS  workflow:fixed .* 3 hold", out)
    assert re.search(r"FAIL  workflow:naive .* failed: failover.no_unexpected_failure", out)
    junit = (tmp_path / "report.xml").read_text()
    assert 'name="failover.finishes"' in junit and junit.count("<failure") == 1
    assert "workflow:naive" in (tmp_path / "report.json").read_text()
    (tmp_path / "mrkcheck.toml").write_text("[workflows.broken]\nothers = 'any'\n")
    assert main(["check"]) == 150
    assert "workflows.broken needs workflow" in capsys.readouterr().err


def test_z3_bounded_model_checking_agrees_with_the_gallery():
    """A second engine: BMC finds each safety counterexample at the same (shortest) length, and
    none in the runbooks that pass, to the depth of their whole state space."""
    from mrkcheck.check.symbolic import bmc

    for name, code, found, _ in VERDICTS:
        if code == 13:
            continue
        model = wf.build(workflow=str(GALLERY / name))
        depth = max(found.values()) if found else Checker(model).run().stats.depth
        symbolic = bmc(model, depth).properties
        lengths = {p.name: len(p.trace) for p in symbolic if p.trace is not None}
        assert lengths == found, name


def test_with_guard_order_any_a_refused_call_may_return_any_failing_guards_error():
    base = build_kms(regions=2, guard_order="any")
    kms = declare(KmsOptions(regions=2, guard_order="any"))[1]
    compiler = wf._Compiler(base, kms, None, wf.Workflow("w"))  # type: ignore[arg-type]
    api = [i for i in base.instances if not i.environment]
    outcomes = {i.label: compiler._outcomes(i) for i in api}
    several = 0
    for state in list(reachable(base))[::5]:
        for inst in api:
            fired = {e for e, cond in outcomes[inst.label] if evaluate(cond, state)}
            assert fired == {g.error or "refused" for g in inst.failing_guards(state)}
            several += len(fired) > 1
    assert several > 0  # the option matters: some calls may fail in more than one way


def test_waiting_for_pending_deletion_alone_may_never_finish(tmp_path):
    """What delete_primary.py's docstring says of its first version."""
    text = (GALLERY / "delete_primary.py").read_text()
    first = text.replace(" or not v.exists)", ")")
    assert first != text
    (tmp_path / "first.py").write_text(first)
    result = check(tmp_path / "first.py")
    assert result.exit_code == 13 and violated(result) == {"delete_primary.finishes": 5}
    assert result.violations[0].trace.steps[-1].label == "DeletionDue(s=k1, r=us-east-1)"


def test_the_examples_of_docs_workflows_md_run_and_pass(tmp_path):
    text = (REPO / "docs" / "workflows.md").read_text()
    runbook, in_tests = re.findall(r"```python\n(.*?)```", text, re.S)
    (tmp_path / "example.py").write_text(runbook)
    assert check(tmp_path / "example.py").exit_code == 0
    namespace: dict = {}
    exec(in_tests.replace("examples/", f"{GALLERY.parent}/"), namespace)  # noqa: S102
    namespace["test_our_failover_runbook"]()
