"""The model language refuses Python habits that would silently build a wrong model (issue 11).

Before, ``guards=[x[r] == State.a]`` compared two objects (False: the action never fired), and
``a and b`` / ``not a`` asked an expression for a truth value it has only in a state. Each of these
must now stop the build with one line saying what to write instead; and an action instance that no
reachable state enables is reported after the search, as TLC's coverage would show it.
"""

from __future__ import annotations

import json
import sys
import textwrap
from enum import IntEnum

import pytest

from mrkcheck.check.explicit import check
from mrkcheck.check.report import summary_text
from mrkcheck.cli import main
from mrkcheck.examples.twophase import build as twophase
from mrkcheck.lang.expr import FALSE, TRUE, Const, ExprError, and_, ite, lift, or_, same
from mrkcheck.lang.model import ModelBuilder, ModelError, Transition
from mrkcheck.model.kms import build as build_kms


class Light(IntEnum):
    red = 0
    green = 1


def lights(guard) -> ModelBuilder:
    """Two lights; ``Switch(l)`` turns light ``l`` green under ``guard(colour, l)``."""
    m = ModelBuilder("lights")
    L = m.universe("L", ["l1", "l2"])
    colour = m.variable("colour", Light, over=[L], init=Light.red)

    @m.action(light=L)
    def Switch(light: str) -> Transition:
        return Transition(guards=[guard(colour, light)], effects=[(colour[light], Light.green)])

    return m


def build_error(guard) -> str:
    with pytest.raises(ModelError) as caught:
        lights(guard).build()
    message = str(caught.value)
    assert "\n" not in message
    return message


# --- each habit is refused with one line saying what to write -------------------------------------


def test_double_equals_is_refused_and_names_eq():
    message = build_error(lambda c, x: c[x] == Light.red)
    assert message.startswith("Switch(light=l1): colour[l1] == red:")
    assert "x.eq(y)" in message


def test_reflected_and_other_comparisons_are_refused():
    assert "x.eq(y)" in build_error(lambda c, x: Light.red == c[x])
    assert "x.ne(y)" in build_error(lambda c, x: c[x] != Light.green)
    assert "x.lt(y)" in build_error(lambda c, x: c[x] < 1)
    assert "x.ge(y)" in build_error(lambda c, x: c[x] >= 1)


def test_python_and_is_refused_and_names_ampersand():
    message = build_error(lambda c, x: c["l1"].eq(Light.red) and c["l2"].eq(Light.red))
    assert "a & b" in message and "instead of and/or/not" in message


def test_python_or_and_not_and_if_are_refused():
    for guard in (
        lambda c, x: c["l1"].eq(Light.red) or c["l2"].eq(Light.red),
        lambda c, x: not c[x].eq(Light.green),
        lambda c, x: TRUE if c[x].eq(Light.red) else FALSE,
    ):
        assert "no truth value" in build_error(guard)


def test_membership_in_a_python_list_is_refused():
    assert "x.eq(y)" in build_error(lambda c, x: c[x] in [Light.red])


def test_the_mistake_in_a_property_is_refused_too():
    m = ModelBuilder("p")
    v = m.variable("v", bool).ref
    with pytest.raises(ExprError, match="no truth value"):
        m.invariant("inv", not v)
    with pytest.raises(ModelError, match=r"x\.eq\(y\)"):
        m.invariant("inv", v == 1)


def test_the_correct_spelling_builds_and_fires():
    model = lights(lambda c, x: c[x].eq(Light.red) & ~c[x].eq(Light.green)).build()
    result = check(model)
    assert result.stats.distinct == 4  # each light red or green
    assert result.never_enabled == []


MODULE = """
from mrkcheck.lang.model import ModelBuilder, Transition

def build():
    m = ModelBuilder("broken")
    v = m.variable("v", range(0, 3), init=0).ref

    @m.action()
    def Up():
        return Transition(guards=[v == 0], effects=[(v, 1)])

    return m.build()

def in_property():
    m = ModelBuilder("broken")
    v = m.variable("v", bool).ref
    m.invariant("inv", v and v)
    return m.build()
"""


@pytest.mark.parametrize("function", ["build", "in_property"])
def test_cli_reports_a_bad_model_in_one_line(function, tmp_path, monkeypatch, capsys):
    (tmp_path / "broken_model.py").write_text(textwrap.dedent(MODULE))
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        code = main(["check", f"broken_model:{function}"])
    finally:
        sys.modules.pop("broken_model", None)
    err = capsys.readouterr().err
    assert code == 150
    assert err.count("\n") == 1 and err.startswith("mrkcheck: bad model or options:")


# --- structural identity replaces == inside the library -------------------------------------------


def test_same_is_structural_identity():
    assert same(Const(1), lift(1))
    assert not same(Const(1), Const(1, "bool"))
    m = ModelBuilder("s")
    v = m.variable("v", range(0, 3)).ref
    assert same(v.eq(1) & v.lt(2), v.eq(1) & v.lt(2))
    assert not same(v.eq(1) & v.lt(2), v.lt(2) & v.eq(1))


def test_folding_recognises_constants_that_are_not_the_singletons():
    m = ModelBuilder("f")
    v = m.variable("v", bool).ref
    true, false = Const(1, "bool"), Const(0, "bool")
    assert and_(v, false) is FALSE and or_(v, true) is TRUE
    assert and_(v, true) is v and or_(v, false) is v
    assert same(ite(v, Const(2) + 1, lift(3)), Const(3))  # equal branches: no if-then-else


def test_expressions_still_serve_as_dict_keys():
    m = ModelBuilder("d")
    v = m.variable("v", bool).ref
    a, b = v.eq(1), v.eq(1)
    table = {a: "a", b: "b"}
    assert table[a] == "a" and table[b] == "b"


# --- instances no reachable state enables --------------------------------------------------------


def dead_end_model(constant_false: bool = False):
    """A counter with a Reset whose guard can never hold (n only counts up to 2), or, with
    ``constant_false``, whose guard is false as written: refused by construction."""
    m = ModelBuilder("dead")
    n = m.variable("n", range(0, 4), init=0).ref
    m.terminal(n.eq(2))

    @m.action()
    def Inc():
        return Transition(guards=[n.lt(2)], effects=[(n, n + 1)])

    @m.action()
    def Reset():
        return Transition(guards=[FALSE if constant_false else n.eq(3)], effects=[(n, 0)])

    return m.build()


def test_a_never_enabled_instance_is_a_warning_and_a_json_field():
    result = check(dead_end_model())
    assert result.never_enabled == ["Reset()"]
    assert result.summary()["never_enabled"] == ["Reset()"]
    assert "warning: 1 action instance never enabled: Reset()" in summary_text(result).splitlines()


def test_never_enabled_is_unknown_when_the_search_is_cut_or_reduced():
    from mrkcheck.check.explicit import Limits

    assert check(dead_end_model(), limits=Limits(max_depth=1)).never_enabled is None
    assert check(twophase(3), symmetry=True).never_enabled is None
    assert check(twophase(3)).never_enabled == []


def test_a_long_list_is_shortened_on_the_summary():
    from mrkcheck.check.report import never_enabled_warning

    line = never_enabled_warning([f"A(i={i})" for i in range(5)])
    assert line == (
        "warning: 5 action instances never enabled: A(i=0), A(i=1), A(i=2), ... "
        "(2 more; see --coverage)"
    )


# --- --coverage ----------------------------------------------------------------------------------


def coverage_rows(out: str) -> dict[str, list[str]]:
    lines = out.splitlines()
    start = next(
        i for i, line in enumerate(lines) if line.split()[:3] == ["action", "fired", "new"]
    )
    rows = {}
    for line in lines[start + 1 :]:
        if line.startswith(" ") or line.startswith("("):
            break
        name, *numbers = line.split()
        rows[name] = numbers
    return rows


def test_coverage_prints_fired_and_new_states_per_action_on_twophase(capsys):
    assert main(["check", "twophase", "--coverage"]) == 0
    rows = coverage_rows(capsys.readouterr().out)
    assert list(rows) == twophase(3).action_names
    # Independent totals: TLC reports 1,146 generated and 288 distinct states, Init included.
    assert sum(int(r[0].replace(",", "")) for r in rows.values()) == 1146 - 1
    assert sum(int(r[1].replace(",", "")) for r in rows.values()) == 288 - 1
    # TMCommit is enabled in one reachable state only: the TM in init with every RM prepared (an RM
    # leaves Prepared only on the TM's decision), so it fires once and finds one new state.
    assert rows["TMCommit"][:2] == ["1", "1"]


def test_coverage_on_the_default_model_warns_of_no_instance_refused_by_construction(capsys):
    assert main(["check", "kms", "--no-liveness", "--coverage"]) == 0
    out = capsys.readouterr().out
    rows = coverage_rows(out)
    assert {"CreateKey", "ReplicateKey", "UpdatePrimaryRegion", "Encrypt"} <= set(rows)
    assert all(int(r[0].replace(",", "")) > 0 for r in rows.values())
    # Replicating to, or promoting, the key's own Region is refused by construction (its guard is
    # false when built) yet kept so that the model predicts the call's error: no warning for it.
    assert not [line for line in out.splitlines() if line.startswith("  never ")]
    assert "never enabled:" not in out
    refused = [i.label for i in build_kms().instances if i.refused_by_construction]
    regions = ["us-east-1", "eu-west-1", "ap-southeast-2"]
    assert refused == [f"ReplicateKey(s=k1, r={r}, replica={r})" for r in regions] + [
        f"UpdatePrimaryRegion(s=k1, r={r}, primary={r})" for r in regions
    ]


def test_an_instance_refused_by_construction_is_not_reported_as_never_enabled():
    assert check(dead_end_model(constant_false=True)).never_enabled == []


def test_coverage_goes_to_stderr_when_stdout_is_json(capsys):
    assert main(["check", "twophase", "--coverage", "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["never_enabled"] == []
    assert coverage_rows(captured.err)
