"""Issue 17 (part B): traces reopen their model, any ITF file opens, evaluation errors show their
run, counterexamples to induction and lassos are drawn as what they are, the viewer hides
unchanged rows, evaluates expressions and points at the violation's witnesses, and every object a
notebook shows has a short repr and an HTML display."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from mrkcheck.check.checker import Checker
from mrkcheck.check.compile import EvaluationError
from mrkcheck.check.explicit import check
from mrkcheck.check.result import CTI_LABEL
from mrkcheck.check.symbolic import inductive
from mrkcheck.cli import main
from mrkcheck.examples.twophase import MUTANTS, build
from mrkcheck.lang.model import state_property
from mrkcheck.lang.query import QueryError, evaluate_along, parse_query, witnesses
from mrkcheck.lang.scenario import Scenario
from mrkcheck.registry import model_builder
from mrkcheck.traces.foreign import generic_trace
from mrkcheck.traces.itf import load_json, write_ctis
from mrkcheck.traces.picture import trace_figure

EXAMPLES = Path(__file__).resolve().parent.parent / "traces" / "examples"
LASSO = EXAMPLES / "kms-sync_never_runs.itf.json"  # a liveness counterexample: steps 4-6 loop
TWO_PRIMARIES = EXAMPLES / "kms-promote_before_demote.itf.json"

USER_MODEL = """
from mrkcheck import ModelBuilder, Transition


def build(n: int = 2, limit: int = 3):
    m = ModelBuilder("counter")
    P = m.universe("P", [f"p{i}" for i in range(1, n + 1)], symmetric=True)
    c = m.variable("c", range(0, limit + 1), over=[P], init=0)

    @m.action(p=P)
    def Inc(p):
        return Transition(guards=[c[p].lt(limit)], effects=[(c[p], c[p] + 1)])

    m.invariant("small", c["p1"].lt(limit))
    return m.build()
"""


def run(argv, capsys):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def user_folder(tmp_path, monkeypatch):
    """A scratch folder with a user's model, the import system restored afterwards."""
    (tmp_path / "usermodel.py").write_text(USER_MODEL)
    monkeypatch.setattr(sys, "path", list(sys.path))
    yield tmp_path
    for name in [m for m in sys.modules if "usermodel" in m or m.startswith("mrkcheck_user_")]:
        del sys.modules[name]


# --- 1. traces remember how to rebuild their model ---------------------------------------------


@pytest.mark.parametrize("spec", ["usermodel:build", "./usermodel.py:build", "FILE:build"])
def test_a_user_models_trace_reopens_without_flags(spec, user_folder, monkeypatch, capsys):
    monkeypatch.chdir(user_folder)
    spec = spec.replace("FILE", str(user_folder / "usermodel.py"))
    code, out, _ = run(["check", spec, "-D", "n=3", "--out", "out", "--no-deadlock"], capsys)
    assert code == 12 and "wrote out/counter-small.itf.json" in out
    header = json.loads((user_folder / "out" / "counter-small.itf.json").read_text())["#meta"]
    assert header["source"] == spec and header["model"] == "counter"
    assert header["options"] == {"n": 3}
    elsewhere = user_folder / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # a relative model path must not stop it reopening
    trace = user_folder / "out" / "counter-small.itf.json"
    code, out, err = run(["trace", "show", trace], capsys)
    assert (code, err) == (0, "")
    assert out.startswith("counter: property small violated after 3 steps\noptions: n=3")
    assert re.search(r"c\[p1\] +0 +\*1 +\*2 +\*3!", out)
    code, out, _ = run(["trace", "check", trace], capsys)
    assert code == 0 and "its last state violates small" in out


# --- 2. any ITF file -----------------------------------------------------------------------------

FOREIGN = {  # as Apalache and Quint write them: #meta, vars, states, loop, every value form
    "#meta": {
        "format": "ITF",
        "format-description": "https://apalache-mc.org/docs/adr/015adr-trace.html",
        "source": "MC_Bank.tla",
        "description": "Created by Apalache on Sun Dec 06 12:00:00 UTC 2026",
    },
    "params": [],
    "vars": ["balance", "owners", "pc", "last", "log", "mbt::actionTaken"],
    "states": [
        {
            "#meta": {"index": 0},
            "balance": {"#map": [["alice", {"#bigint": "10"}], ["bob", {"#bigint": "0"}]]},
            "owners": {"#set": ["alice", "bob"]},
            "pc": {"tag": "Idle", "value": {}},
            "last": {"#tup": ["none", {"#bigint": "0"}]},
            "log": {"sent": {"#bigint": "0"}, "note": {"#unserializable": "Int"}},
            "mbt::actionTaken": "init",
        },
        {
            "#meta": {"index": 1},
            "balance": {"#map": [["alice", {"#bigint": "7"}], ["bob", {"#bigint": "3"}]]},
            "owners": {"#set": ["bob", "alice"]},
            "pc": {"tag": "Sending", "value": {"#bigint": "3"}},
            "last": {"#tup": ["alice", {"#bigint": "3"}]},
            "log": {"sent": {"#bigint": "3"}, "note": {"#unserializable": "Int"}},
            "mbt::actionTaken": "transfer",
        },
        {
            "#meta": {"index": 2},
            "balance": {
                "#map": [
                    ["alice", {"#bigint": "7"}],
                    ["bob", {"#bigint": "3"}],
                    ["carol", {"#bigint": "0"}],
                ]
            },
            "owners": {"#set": ["alice", "bob", "carol"]},
            "pc": {"tag": "Idle", "value": {}},
            "last": {"#tup": ["alice", {"#bigint": "3"}]},
            "log": {"sent": {"#bigint": "3"}, "note": {"#unserializable": "Int"}},
            "mbt::actionTaken": "open",
        },
    ],
    "loop": 1,
}


@pytest.fixture
def foreign(tmp_path):
    path = tmp_path / "bank.itf.json"
    path.write_text(json.dumps(FOREIGN, indent=1))
    return path


def test_an_itf_file_of_another_tool_opens_as_text(foreign, capsys):
    code, out, err = run(["trace", "show", foreign], capsys)
    assert (code, err) == (0, "")
    assert out.startswith("MC_Bank.tla: a run of 2 steps, looping back to step 1")
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines()[3:12] if line}
    assert rows["action"] == ["Init", "transfer()", "open()"]  # Quint's mbt::actionTaken
    assert rows["balance[alice]"] == ["10", "*7", "7"]  # a #map: one row per key, changes marked
    assert rows["balance[carol]"] == ["-", "-", "*0"]  # absent, then added
    assert "*{alice, bob, carol}" in out and "*Sending(3)" in out  # a #set, a variant
    assert "*<<alice, 3>>" in out and "log[sent]" in out  # a #tup, a record by field
    assert "then back to step 1: steps 1-2 repeat forever" in out
    code, out, _ = run(
        ["trace", "show", foreign, "--eval", "balance[alice] + balance[bob]"], capsys
    )
    assert code == 0 and re.search(r"balance\[alice\] \+ balance\[bob\] +10 +10 +10", out)


def test_an_itf_file_of_another_tool_opens_as_html(foreign, tmp_path, capsys):
    page = tmp_path / "bank.html"
    assert run(["trace", "show", foreign, "-o", page], capsys)[0] == 0
    html = page.read_text()
    assert html.count('<section class="step"') == 3
    assert 'class="changed" title="was 10"' in html  # balance[alice] 10 -> 7 at step 1
    assert "back to step 1" in html and 'class="loop-start"' in html


def test_a_foreign_file_cannot_be_replayed_without_a_model(foreign, capsys):
    code, _, err = run(["trace", "check", foreign], capsys)
    assert code == 150 and "written by another tool for 'MC_Bank.tla'" in err
    assert len(err.strip().splitlines()) == 1


def test_generic_values_of_a_foreign_trace():
    trace = generic_trace(load_json(json.dumps(FOREIGN)))
    assert [trace.label(i) for i in range(3)] == ["Init", "transfer()", "open()"]
    assert trace.loop == 1
    owners = trace.schema.variable("owners")
    assert [owners.domain.show(s.state[owners.first_slot]) for s in trace.steps] == [
        "{alice, bob}",
        "{alice, bob}",  # a set's order in the file does not matter
        "{alice, bob, carol}",
    ]


# --- 3. evaluation errors show the run that reaches them --------------------------------------

OVERFLOW = """
from mrkcheck import ModelBuilder, Transition


def build(limit: int = 2):
    m = ModelBuilder("overflow")
    n = m.variable("n", range(0, limit + 1), init=0).ref
    flag = m.variable("flag", bool, init=False).ref

    @m.action()
    def Flip():
        return Transition(guards=[~flag], effects=[(flag, True)])

    @m.action()
    def Inc():
        return Transition(guards=[flag], effects=[(n, n + 1)])

    return m.build()
"""


def test_an_evaluation_error_prints_the_run_that_reaches_it(user_folder, capsys):
    (user_folder / "overflow.py").write_text(OVERFLOW)
    code, out, err = run(["check", f"{user_folder}/overflow.py:build"], capsys)
    assert code == 75
    assert err == "mrkcheck: evaluation error: Inc() would set n to 3, outside its domain\n"
    assert "The run that reaches the error (3 steps), then the failing step:" in out
    steps = [line.split()[1] for line in out.splitlines()[1:6]]
    assert steps == ["Init", "Flip()", "Inc()", "Inc()", "Inc():"]
    assert "evaluation fails in n' = (n + 1)" in out
    assert re.search(r"^n +0 +0 +\*1 +\*2$", out, re.MULTILINE)


def test_the_evaluation_error_carries_a_real_run(user_folder):
    (user_folder / "overflow2.py").write_text(OVERFLOW)
    model = model_builder(f"{user_folder}/overflow2.py:build")()
    with pytest.raises(EvaluationError) as caught:
        Checker(model).run()
    trace = caught.value.trace
    assert trace is not None and len(trace) == 3 and caught.value.action == "Inc()"
    assert trace.steps[0].state in model.initial


# --- 4. counterexamples to induction ------------------------------------------------------------


@pytest.fixture(scope="module")
def cti():
    model = build(rm=2)
    result = inductive(model, "TCConsistent")  # no lemmas: not inductive on its own
    assert not result.holds and result.cti is not None
    return model, result.cti.trace(model, "TCConsistent")


def test_a_cti_is_labelled_in_text_html_and_picture(cti, tmp_path, capsys):
    model, trace = cti
    assert trace.label(0) == CTI_LABEL
    (path,) = write_ctis(model.name, {"TCConsistent": trace}, tmp_path)
    assert json.loads(Path(path).read_text())["#meta"]["start"] == "CTI"
    code, out, _ = run(["trace", "show", path], capsys)
    assert code == 0 and "counterexample to induction of TCConsistent" in out
    assert "Step 0 (CTI) is a counterexample to induction: an arbitrary state" in out
    assert re.search(r"^action +CTI ", out, re.MULTILINE) and "Init" not in out
    page = tmp_path / "cti.html"
    assert run(["trace", "show", path, "-o", page], capsys)[0] == 0
    html = page.read_text()
    assert '<li data-step="0">0. CTI</li>' in html and "maybe unreachable" in html
    labels = {t.get_text() for t in trace_figure(trace).findobj(lambda o: hasattr(o, "get_text"))}
    assert CTI_LABEL in labels and "Init" not in labels
    code, out, _ = run(["trace", "check", path], capsys)  # its first state need not be initial
    assert code == 0 and "its last state violates TCConsistent" in out


# --- 5. the viewer: lassos, hidden rows, expressions, witnesses --------------------------------


def test_a_lasso_is_drawn_as_a_loop_with_why_it_is_fair(tmp_path, capsys):
    code, out, _ = run(["trace", "show", LASSO], capsys)
    assert code == 0 and "violated by a run that loops forever (steps 4-6)" in out
    assert re.search(r"^step .* 4 <loop .* 6 >back$", out, re.MULTILINE)
    assert "then back to step 4: steps 4-6 repeat forever" in out
    assert "It is a weakly fair run" in out
    assert "AutomaticRotation(s=k1, r=us-east-1): disabled at step 5" in out
    page = tmp_path / "lasso.html"
    assert run(["trace", "show", LASSO, "-o", page], capsys)[0] == 0
    html = page.read_text()
    assert "is false in this state" not in html
    assert 'class="loop-start"' in html and "goes back to step 4" in html
    assert "weakly fair run" in html
    assert "back to step 4" in _figure_texts(LASSO)  # the picture: bracket, arrow and words


def _open(path):
    """A trace file and its model, as ``trace show`` reads them."""
    from mrkcheck.cli.trace import load_trace

    class Args:
        file, model, set, mutant = str(path), None, None, None

    return load_trace(Args())


def _figure_texts(path):
    trace, _ = _open(path)
    return {t.get_text() for t in trace_figure(trace).findobj(lambda o: hasattr(o, "get_text"))}


def test_the_violating_slots_are_pointed_at(tmp_path, capsys):
    code, out, _ = run(["trace", "show", TWO_PRIMARIES], capsys)
    assert code == 0
    assert (
        "one_primary_per_key_set is false in the last state because of: "
        "role[k1,us-east-1] = PRIMARY, role[k1,eu-west-1] = PRIMARY"
    ) in out
    assert re.search(r"^role\[k1,eu-west-1\] .*\*PRIMARY!$", out, re.MULTILINE)
    page = tmp_path / "p.html"
    assert run(["trace", "show", TWO_PRIMARIES, "-o", page], capsys)[0] == 0
    assert page.read_text().count("witness") >= 2 + 1  # the two cells, and the style rule


def test_witnesses_are_the_slots_of_the_false_conjunct():
    model = MUTANTS[0].build()
    trace = check(model).result("TCConsistent").trace
    expr = state_property(model.get_property("TCConsistent")).expr
    found = witnesses(expr, trace.steps[-1].state)
    labels = {var[idx].label for var, idx, slot in model.schema.slots() if slot in found}
    assert labels == {"rmState[rm1]", "rmState[rm2]"}  # one aborted, the other committed


def test_changed_only_hides_what_does_not_change(tmp_path, capsys):
    code, out, _ = run(["trace", "show", TWO_PRIMARIES, "--changed-only"], capsys)
    assert code == 0
    assert re.search(r"^created\[k1\] +false +\*true$", out, re.MULTILINE)  # then blank cells
    page = tmp_path / "c.html"
    run(["trace", "show", TWO_PRIMARIES, "--changed-only", "-o", page], capsys)
    html = page.read_text()
    assert 'class="changed-only" checked' in html and '<tr class="steady">' in html
    run(["trace", "show", TWO_PRIMARIES, "-o", tmp_path / "d.html"], capsys)
    assert 'class="changed-only" checked' not in (tmp_path / "d.html").read_text()


def test_an_expression_is_evaluated_along_the_trace(capsys):
    expr = "sum(role[k1, r] == PRIMARY for r in Region)"
    code, out, _ = run(["trace", "show", TWO_PRIMARIES, "--eval", expr], capsys)
    assert code == 0 and re.search(r"PRIMARY for r in Region\) +0 +1 +1 +1 +2$", out, re.M)
    code, out, _ = run(
        ["trace", "show", TWO_PRIMARIES, "--eval", "key_state[k1, eu-west-1] in (Updating,)"],
        capsys,
    )
    assert re.search(r"\(Updating,\) +FALSE +FALSE +FALSE +FALSE +TRUE$", out, re.M)


@pytest.mark.parametrize(
    "text, message",
    [
        ("__import__('os').system('true')", "the only calls are sum"),
        ("role[k1, us-east-1] == PRIMRY", "did you mean 'PRIMARY'"),
        ("rol[k1, us-east-1]", "did you mean 'role'"),
        ("key_state[k1, us-east-1] + 1", "takes named values, not numbers"),
        ("role[k1]", "takes 2 indices"),
        ("lambda: 1", "Lambda is not allowed"),
        ("role[k1, ", "cannot read expression"),
    ],
)
def test_a_bad_expression_is_one_line(text, message, capsys):
    code, out, err = run(["trace", "show", TWO_PRIMARIES, "--eval", text], capsys)
    assert code == 150 and out == ""
    assert len(err.strip().splitlines()) == 1 and message in err, err


def test_queries_evaluate_as_the_model_language_does():
    model = build(rm=2)
    schema = model.schema
    expr = parse_query("sum(rmState[r] == working for r in RM) >= 2", schema, model.universes)
    assert evaluate_along(expr, [model.initial[0]], schema) == ["TRUE"]
    assert evaluate_along(parse_query("tmState", schema), [model.initial[0]], schema) == ["init"]
    with pytest.raises(QueryError):
        parse_query("open('x')", schema)


# --- 6. Jupyter ---------------------------------------------------------------------------------


def test_short_reprs_and_html_for_what_a_notebook_shows(kms_default):
    assert len(repr(kms_default)) < 1000
    assert repr(kms_default).startswith("<Model kms: 3 universes")
    model = MUTANTS[0].build()
    result = Checker(model).run()
    trace = result.result("TCConsistent").trace
    scenario = Scenario(model).do("RMPrepare", rm="rm1")
    state = model.show(model.initial[0])
    shown = [kms_default, model, state, scenario, model.properties[0], result, trace]
    shown.append(result.properties[0])
    for obj in shown:
        assert len(repr(obj)) < 1000, type(obj)
        html = obj._repr_html_()
        assert isinstance(html, str) and "<table" in html, type(obj)
    assert repr(state).startswith("State(rmState[rm1]=working, rmState[rm2]=working")
    assert state["rmState", "rm1"] == "working"
    assert trace.show(len(trace))["rmState", "rm2"] == "committed"
    assert "<th>rmState</th>" in state._repr_html_()
    assert "<td>working</td>" in state._repr_html_()  # decoded, not a tuple of ints


def test_notebook_display_of_a_kms_model_names_its_parts(kms_default):
    html = kms_default._repr_html_()
    for word in ("key_state", "Region", "ReplicateKey", "one_primary_per_key_set", "environment"):
        assert word in html
    assert len(html) < 50_000


def test_the_picture_outlines_the_witnesses_in_red():
    from mrkcheck.traces.picture import WITNESS

    trace, model = _open(TWO_PRIMARIES)
    prop = state_property(model.get_property("one_primary_per_key_set"))
    found = witnesses(prop.expr, trace.steps[-1].state)
    lanes = trace_figure(trace, witnesses=found).axes[0]
    red = [p for p in lanes.patches if p.get_edgecolor()[:3] == (214 / 255, 39 / 255, 40 / 255)]
    assert WITNESS == "#d62728" and len(red) == 2  # the two Regions whose keys are PRIMARY
    assert [round(p.get_x() + 0.42) for p in red] == [len(trace)] * 2  # in the last column


VISIBLE_ROWS_JS = """(function () {
  var cur = document.querySelector('section.step.current');
  return Array.from(cur.querySelectorAll('tr')).filter(function (tr) {
    return tr.offsetParent !== null && tr.querySelector('td');
  }).length;
})()"""


def test_the_changed_only_checkbox_hides_and_shows_rows_in_a_browser(tmp_path, capsys):
    from tools.browser import Browser, find_chromium

    executable = find_chromium()
    if executable is None:
        pytest.skip("no chromium (.ci/run installs Debian's)")
    page_file = tmp_path / "p.html"
    run(["trace", "show", TWO_PRIMARIES, "--changed-only", "-o", page_file], capsys)
    with Browser(executable) as browser:
        page = browser.open(page_file.as_uri())
        hidden = page.evaluate(VISIBLE_ROWS_JS)
        page.click("input.changed-only")
        shown = page.evaluate(VISIBLE_ROWS_JS)
        page.click("input.changed-only")
        assert page.evaluate(VISIBLE_ROWS_JS) == hidden
    # rows: k1 at each of 3 Regions, and k1 (created, origin...); ap-southeast-2's never changes
    assert (hidden, shown) == (3, 4)


def test_an_unfair_loop_is_not_explained_away(capsys):
    unfair = Path(__file__).resolve().parent / "fixtures" / "unfair-sync_never_runs.itf.json"
    code, out, _ = run(["trace", "show", unfair], capsys)
    assert code == 0 and "It is NOT a weakly fair run" in out
    assert "AutomaticRotation(s=k1, r=us-east-1): enabled throughout and never taken" in out
    code, out, _ = run(["trace", "check", unfair], capsys)  # replay agrees on the culprit
    assert code == 12 and "AutomaticRotation(s=k1, r=us-east-1) is enabled in every state" in out


def test_an_action_propertys_witnesses_are_read_across_the_last_step(capsys):
    overwrite = EXAMPLES / "kms-replicate_overwrites.itf.json"  # a replica written over a key
    code, out, _ = run(["trace", "show", overwrite], capsys)
    assert code == 0
    assert out.rstrip().endswith(
        "one_key_per_region is false across the last step because of: "
        "key_state[k1,eu-west-1] = Creating"
    )


def test_a_broken_foreign_file_is_one_line(tmp_path, capsys):
    broken = json.loads(json.dumps(FOREIGN))
    del broken["states"][1]["owners"]
    broken["states"][2]["pc"] = {"#bigint": "x"}
    path = tmp_path / "broken.itf.json"
    path.write_text(json.dumps(broken))
    code, out, err = run(["trace", "show", path], capsys)
    assert (code, out) == (150, "")
    assert err == f"mrkcheck: bad trace: {path}: state 1: variable owners is missing\n"


def test_an_empty_map_is_one_row():
    doc = {"vars": ["m"], "states": [{"m": {"#map": []}}, {"m": {"#map": []}}]}
    trace = generic_trace(load_json(json.dumps(doc)))
    assert [v.name for v in trace.schema.variables] == ["m"]
    assert trace.schema.variables[0].domain.values == ("<<>>",)


MUTANT_FILE = """
from mrkcheck import Mutant, Transition
from mrkcheck.lang.mutation import edit_effects

from usermodel import build


def _double(**options):
    return edit_effects(build(**options), "Inc", lambda inst, target, value: value + 1)


MUTANTS = [Mutant("double_step", "Inc adds two", "small", _double)]
"""


def test_a_user_models_mutant_next_to_it_is_found_and_remembered(user_folder, capsys):
    (user_folder / "usermodel_mutants.py").write_text(MUTANT_FILE)
    spec = f"{user_folder}/usermodel.py:build"
    code, out, _ = run(
        ["check", spec, "--mutant", "double_step", "--out", user_folder / "out", "-D", "limit=4"],
        capsys,
    )
    assert code == 12
    trace = user_folder / "out" / "counter-small.itf.json"
    header = json.loads(trace.read_text())["#meta"]
    assert header["options"] == {"limit": 4, "mutant": "double_step"}
    code, out, _ = run(["trace", "check", trace], capsys)
    assert code == 0 and "its last state violates small" in out
    code, out, _ = run(["trace", "check", trace, "--mutant", "none"], capsys)
    assert code == 12 and "leads elsewhere" in out  # the real model adds one, not two
