"""ITF JSON: round trips (Hypothesis), determinism, and one-line errors for malformed files."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mrkcheck.check.explicit import check
from mrkcheck.check.result import Step, Trace
from mrkcheck.cli import main
from mrkcheck.examples.twophase import MUTANTS, build
from mrkcheck.traces.itf import TraceFormatError, dumps, from_itf, load_json, read_itf, write_itf
from mrkcheck.traces.values import ItfMap, Unserializable, decode, encode

MODELS = {rm: build(rm) for rm in (1, 2, 3)}


def counterexample() -> Trace:
    return check(MUTANTS[0].build()).result("TCConsistent").trace


# --- round trips ----------------------------------------------------------------------------------


@st.composite
def traces(draw) -> Trace:
    """Any trace of a TwoPhase schema: arbitrary in-domain states, action labels, loop, property."""
    model = MODELS[draw(st.sampled_from(sorted(MODELS)))]
    slots = model.schema.slots()
    n = draw(st.integers(1, 6))
    steps = []
    for i in range(n):
        state = tuple(draw(st.integers(v.domain.lo, v.domain.hi)) for v, _, _ in slots)
        if i == 0:
            steps.append(Step(None, (), state))
        else:
            inst = draw(st.sampled_from(model.instances))
            steps.append(Step(inst.action, inst.params, state))
    loop = draw(st.none() | st.integers(0, n - 1))
    prop = draw(st.none() | st.sampled_from([p.name for p in model.properties]))
    options = dict(model.options)
    if draw(st.booleans()):
        options["mutant"] = draw(st.text(min_size=1, max_size=8))
    return Trace(model.schema, steps, loop, model.name, prop, options)


@given(traces())
@settings(max_examples=150, deadline=None)
def test_any_trace_survives_write_and_read(trace):
    text = dumps(trace)
    back = from_itf(load_json(text), trace.schema)
    assert back == trace
    assert back.options == trace.options
    assert dumps(back) == text  # and the bytes are stable


hashable = st.recursive(
    st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.text(max_size=6)
    | st.builds(Unserializable, st.text(max_size=6)),
    lambda inner: st.tuples(inner, inner) | st.frozensets(inner, max_size=3),
    max_leaves=8,
)


def _maps(values):
    pairs = st.lists(
        st.tuples(hashable, values), max_size=3, unique_by=lambda kv: encode(kv[0]).__repr__()
    )
    return st.builds(lambda items: ItfMap(tuple(items)), pairs)


itf_values = st.recursive(
    hashable,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.tuples(inner)
        | st.frozensets(hashable, max_size=3)
        | _maps(inner)
        | st.dictionaries(
            st.text(max_size=5).filter(lambda k: not k.startswith("#")), inner, max_size=3
        )
    ),
    max_leaves=12,
)


@given(itf_values)
@settings(max_examples=300, deadline=None)
def test_any_itf_value_survives(value):
    encoded = encode(value)
    text = json.dumps(encoded)
    back = decode(json.loads(text))
    assert encode(back) == encoded
    assert back == value


def test_plain_json_integers_are_accepted_and_written_as_bigint():
    assert decode({"#tup": [1, {"#bigint": "-12345678901234567890"}]}) == (1, -12345678901234567890)
    assert encode(7) == {"#bigint": "7"}


def test_the_same_counterexample_gives_the_same_bytes(tmp_path):
    a, b = tmp_path / "a.itf.json", tmp_path / "b.itf.json"
    write_itf(counterexample(), a)
    write_itf(counterexample(), b)
    assert a.read_bytes() == b.read_bytes()
    doc = json.loads(a.read_text())
    assert doc["#meta"]["property"] == "TCConsistent"
    assert doc["#meta"]["options"] == {"rm": 3}
    assert doc["states"][2]["#meta"] == {
        "index": 2,
        "action": "RMChooseToAbort",
        "params": {"rm": "rm1"},
    }
    assert doc["states"][0]["rmState"] == {
        "#map": [["rm1", "working"], ["rm2", "working"], ["rm3", "working"]]
    }


def test_lasso_loop_is_kept(tmp_path):
    trace = counterexample()
    trace.loop = 1
    write_itf(trace, tmp_path / "t.itf.json")
    assert json.loads((tmp_path / "t.itf.json").read_text())["loop"] == 1
    assert read_itf(tmp_path / "t.itf.json", trace.schema).loop == 1


# --- malformed files: one line, exit code 150 -----------------------------------------------------


def _valid() -> dict:
    return json.loads(dumps(counterexample()))


def _truncated(tmp_path):
    return dumps(counterexample())[:700]


def _missing_variable(tmp_path):
    doc = _valid()
    del doc["states"][1]["msgCommit"]
    return json.dumps(doc)


def _outside_domain(tmp_path):
    doc = _valid()
    doc["states"][2]["rmState"]["#map"][1][1] = "finished"
    return json.dumps(doc)


def _not_itf(tmp_path):
    return json.dumps({"name": "mrkcheck", "version": [1, 2]})


def _wrong_type(tmp_path):
    doc = _valid()
    doc["states"][3]["msgAbort"] = {"#bigint": "1"}
    return json.dumps(doc)


def _unknown_key(tmp_path):
    doc = _valid()
    doc["states"][1]["tmPrepared"]["#map"][0][0] = "rm9"
    return json.dumps(doc)


def _bad_bigint(tmp_path):
    doc = _valid()
    doc["states"][1]["tmState"] = {"#bigint": "1.5"}
    return json.dumps(doc)


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (_truncated, "not valid JSON: "),
        (_missing_variable, "state 1: variable msgCommit is missing"),
        (
            _outside_domain,
            "state 2, variable rmState[rm2]: expected one of working, prepared, committed, "
            'aborted (RMState), found "finished"',
        ),
        (_not_itf, "not an ITF trace: expected a JSON object with a 'states' array"),
        (_wrong_type, "state 3, variable msgAbort: expected a Boolean, found 1"),
        (_unknown_key, 'state 1, variable tmPrepared: key "rm9" is not an element of RM'),
        (_bad_bigint, "state 1, variable tmState: #bigint '1.5' is not a decimal integer"),
    ],
    ids=lambda v: getattr(v, "__name__", "")[1:] if callable(v) else "",
)
@pytest.mark.parametrize("command", ["check", "show"])
def test_malformed_file_is_one_line_and_exit_150(tmp_path, capsys, make, expected, command):
    path = tmp_path / "bad.itf.json"
    path.write_text(make(tmp_path))
    code = main(["trace", command, str(path)])
    err = capsys.readouterr().err
    assert code == 150
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("mrkcheck: bad trace: ")
    assert expected in err


def test_malformed_file_error_is_a_value_error(tmp_path):
    path = tmp_path / "bad.itf.json"
    path.write_text(_missing_variable(tmp_path))
    with pytest.raises(TraceFormatError, match=r"state 1: variable msgCommit is missing$"):
        read_itf(path, MODELS[3].schema)
    assert issubclass(TraceFormatError, ValueError)


def test_foreign_file_without_source_asks_for_a_model(tmp_path, capsys):
    doc = _valid()
    doc["#meta"] = {"format": "ITF", "source": ""}
    path = tmp_path / "foreign.itf.json"
    path.write_text(json.dumps(doc))
    assert main(["trace", "check", str(path)]) == 150
    assert "pass --model" in capsys.readouterr().err
    assert main(["trace", "check", str(path), "--model", "twophase"]) == 12  # not a run of it
    assert (
        main(["trace", "check", str(path), "--model", "twophase", "--mutant", "early_commit"]) == 0
    )


def test_missing_file_is_one_line(tmp_path, capsys):
    assert main(["trace", "show", str(tmp_path / "nope.itf.json")]) == 150
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "cannot read" in err
