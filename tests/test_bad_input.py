"""Bad input is never misread: one line on stderr and exit 150, never a traceback or exit 255.

A campaign of malformed inputs for every command (issue 10 part 6, issue 16): command lines,
project files, ITF files; the echoed value is at most 100 characters; names get "did you mean";
report paths are checked (their folders created) before any work; empty values are refused.
"""

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mrkcheck.cli import main, make_parser
from mrkcheck.cli.common import build_model
from mrkcheck.errors import ECHO_LIMIT, OneLineError

EXAMPLE = (
    Path(__file__).parent.parent / "traces" / "examples" / "kms-update_while_updating.itf.json"
)
LONG = "x" * 5000
BAD_INPUT = 150


def run(argv, capsys):
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.err, captured.out


def assert_refused(code, err):
    """The contract for bad input: exit 150 and exactly one line, nothing internal."""
    assert code == BAD_INPUT, err[:300]
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in err and "internal error" not in err
    assert LONG[: ECHO_LIMIT + 1] not in err  # a long value is echoed cut to 100 characters


@pytest.fixture
def blocker(tmp_path):
    """A regular file: any path under it cannot be created."""
    path = tmp_path / "file"
    path.write_text("")
    return path


# --- command lines --------------------------------------------------------------------------------

COMMAND_LINES = [
    ["chek"],
    [""],
    ["check", "kmss"],
    ["check", "nosuch:build"],
    ["check", "mrkcheck.cli:main"],  # a function that is not a model (it recursed: exit 255)
    ["check", "--regions", "abc"],
    ["check", "--regions", "9"],
    ["check", "--regions", "-3"],
    ["check", "--key-sets", "x"],
    ["check", "--key-sets", "1.5"],
    ["check", "-D", "regoins=2"],
    ["check", "-D", "regions"],
    ["check", "-D", "=3"],
    ["check", "-D", "update_allowed_while_updating=maybe"],
    ["check", "--property", "one_primary_per_keyset"],
    ["check", "--mutant", "replicate_overwrite"],
    ["check", "--max-states", "many"],
    ["check", "--bogus"],
    ["check", "--project", "missing.toml"],
    ["check", "--regions", "2", "--instance", "a"],
    ["check", "twophase", "--regions", "3"],
    ["check", LONG],
    ["check", "--mutant", LONG],
    ["check", "--property", LONG],
    ["check", "--regions", LONG],
    ["check", "-D", f"{LONG}=1"],
    ["check", "-D", f"max_versions={LONG}"],
    ["check", "--project", LONG],
    ["prove", "--max-seconds", "1e308"],
    ["prove", "--max-seconds", "nan"],
    ["prove", "--max-seconds", "soon"],
    ["prove", "--k", "0"],
    ["prove", "--mutant", "nope"],
    ["list", "propertiess"],
    ["list", "properties", "kmss"],
    ["list", LONG],
    ["trace"],
    ["trace", "sho"],
    ["trace", "show", "/nonexistent.itf.json"],
    ["trace", "show", str(EXAMPLE), "--format", "gif"],
    ["trace", "show", str(EXAMPLE), "-o", "out.unknown"],
    ["trace", "check", LONG],
    ["trace", "check", str(EXAMPLE), "-D", "nope=1"],
    ["trace", "check", str(EXAMPLE), "--mutant", "nope"],
    ["trace", "check", str(EXAMPLE), "--model", "nomodel"],
    ["graph", "--regions", "1"],  # -o is required
    ["graph", "--regions", "1", "-o", "x.unknown"],
    ["conform"],
    ["conform", "--against-mutant", "nosuch"],
    ["conform", "--against-mutant", "none", "--regions", "abc"],
    ["conform", "--against-mutant", "none", "--skip", "UpdatePrimaryRegio"],
    ["conform", "--against-mutant", "none", "--key-ref", "name"],
    ["conform", "--against-mutant", "none", "--key-sets", "7"],
    ["conform", "--against-mutant", "none", "-D", "nope=1"],
    ["conform", "--against-mutant", "none", "--trace", "/nonexistent.itf.json"],
]


@pytest.mark.parametrize("argv", COMMAND_LINES, ids=lambda argv: " ".join(argv)[:60])
def test_malformed_command_lines_are_one_line_and_150(argv, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no project file here; nothing written into the repository
    code, err, _ = run(argv, capsys)
    assert_refused(code, err)


EMPTY_VALUES = [
    ["check", "--mutant", ""],
    ["check", "--mutant", "  "],
    ["check", "--project", ""],
    ["check", "--junit", ""],
    ["check", "--json", ""],
    ["check", "--out", " "],
    ["check", "--regions", ""],
    ["check", "--property", ""],
    ["check", "-D", ""],
    ["check", "-D", "regions= "],
    ["check", "--instance", ""],
    ["prove", "--mutant", ""],
    ["trace", "check", ""],
    ["trace", "show", str(EXAMPLE), "-o", ""],
    ["graph", "-o", ""],
    ["conform", "--against-mutant", ""],
    ["conform", "--against-mutant", "none", "--json", ""],
]


@pytest.mark.parametrize("argv", EMPTY_VALUES, ids=lambda argv: " ".join(argv)[-30:])
def test_empty_values_are_refused(argv, capsys, tmp_path, monkeypatch):
    """``--mutant "$M"`` with ``$M`` unset used to check the correct model and exit 0."""
    monkeypatch.chdir(tmp_path)
    code, err, _ = run(argv, capsys)
    assert_refused(code, err)
    assert "must not be empty" in err or "takes KEY=VALUE" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["check", "--property", "one_primary_per_keyset"],
            "did you mean 'one_primary_per_key_set'?",
        ),
        (["check", "--mutant", "replicate_overwrite"], "did you mean 'replicate_overwrites'?"),
        (["check", "-D", "regoins=2"], "did you mean 'regions'?"),
        (["check", "kmss"], "did you mean 'kms'?"),
        (["check", "--regions", "us-east1,eu-west-1"], "did you mean 'us-east-1'?"),
        (["list", "propertiess"], "did you mean 'properties'?"),
        (["chek"], "did you mean 'check'?"),
        (["trace", "sho"], "did you mean 'show'?"),
        (["conform", "--against-mutant", "none", "--skip", "Encrypts"], "did you mean 'Encrypt'?"),
        (["check", "-D", "colour=1"], "see: mrkcheck list options kms"),
        (["check", "--mutant", "zzz"], "see: mrkcheck list mutants kms"),
    ],
)
def test_unknown_names_get_a_suggestion_not_a_list(argv, message, capsys):
    code, err, _ = run(argv, capsys)
    assert_refused(code, err)
    assert message in err
    assert len(err) < 200  # the full list of names was 500-800 characters


# --- output paths: checked before any work -------------------------------------------------------


def _no_run(*args, **kwargs):
    raise AssertionError("the run started although an output path cannot be written")


@pytest.mark.parametrize(
    "flags",
    [
        ["--json", "{blocker}/x.json"],
        ["--junit", "{blocker}/reports/x.xml"],
        ["--out", "{blocker}/traces"],
        ["--out", "{blocker}"],  # a file where a folder is expected
        ["--json", "{tmp}"],  # a folder where a file is expected
    ],
)
def test_unwritable_outputs_are_refused_before_the_run(
    flags, blocker, tmp_path, monkeypatch, capsys
):
    monkeypatch.setattr("mrkcheck.check.explicit.check", _no_run)
    argv = [f.format(blocker=blocker, tmp=tmp_path) for f in flags]
    code, err, out = run(["check", "twophase", "--rm", "1", *argv], capsys)
    assert_refused(code, err)
    assert out == ""


@pytest.mark.parametrize(
    "argv",
    [
        ["prove", "twophase", "--json", "{blocker}/x.json"],
        ["prove", "twophase", "--out", "{blocker}/traces"],
        ["trace", "show", str(EXAMPLE), "-o", "{blocker}/x.txt"],
        ["graph", "twophase", "--rm", "1", "-o", "{blocker}/x.dot"],
        ["conform", "--against-mutant", "none", "--json", "{blocker}/x.json"],
        ["conform", "--against-mutant", "none", "--out", "{blocker}/traces"],
    ],
)
def test_every_command_checks_its_output_paths(argv, blocker, capsys):
    code, err, out = run([a.format(blocker=blocker) for a in argv], capsys)
    assert_refused(code, err)
    assert "is not a folder" in err
    assert out == ""


def test_reports_into_missing_folders_are_written(tmp_path, capsys):
    """docs/ci.md: --json, --junit and --out create the folders they write to."""
    argv = ["check", "twophase", "--rm", "1", "--mutant", "early_commit"]
    reports = ["--json", f"{tmp_path}/a/b/x.json", "--junit", f"{tmp_path}/c/x.xml"]
    code, err, _ = run([*argv, *reports, "--out", f"{tmp_path}/d/e"], capsys)
    assert code == 12, err  # the mutant is caught: its trace is written too
    assert json.loads((tmp_path / "a/b/x.json").read_text())["exit_code"] == 12
    assert "<testsuites" in (tmp_path / "c/x.xml").read_text()
    assert list((tmp_path / "d/e").glob("*.itf.json"))


def test_prove_and_conform_reports_into_missing_folders(tmp_path, capsys):
    prove = ["prove", "twophase", "--rm", "1", "--depth", "2", "--json", f"{tmp_path}/p/x.json"]
    assert run(prove, capsys)[0] == 0
    assert json.loads((tmp_path / "p/x.json").read_text())["engine"] == "symbolic"
    conform = ["conform", "--against-mutant", "none", "--regions", "1", "--key-sets", "1"]
    limits = ["--runs", "1", "--length", "2", "--json", f"{tmp_path}/q/r/x.json"]
    assert run([*conform, *limits], capsys)[0] == 0
    assert json.loads((tmp_path / "q/r/x.json").read_text())


def test_trace_show_and_graph_outputs_into_missing_folders(tmp_path, capsys):
    assert run(["trace", "show", str(EXAMPLE), "-o", f"{tmp_path}/s/x.txt"], capsys)[0] == 0
    assert "options:" in (tmp_path / "s/x.txt").read_text()
    assert run(["graph", "twophase", "--rm", "1", "-o", f"{tmp_path}/g/x.dot"], capsys)[0] == 0
    assert "digraph" in (tmp_path / "g/x.dot").read_text()


# --- project files ------------------------------------------------------------------------------

PROJECT_FILES = [
    "[instances.a\n",  # not TOML
    "colour = 1\n",
    "instances = 3\n",
    "[instances.a]\nregoins = 3\n",
    "[instances.a]\nregions = true\n",
    "[instances.a]\nregions = [1, 2]\n",
    "[instances.a]\nkey_sets = '2'\n",
    "[instances.a]\nupdate_allowed_while_updating = 'no'\n",
    "[instances.a]\nsymmetry = 'yes'\n",
    "[instances.a]\nmax_states = 'many'\n",
    "[instances.a]\nproperties = ['one_primary_per_keyset']\n",
    "[instances.a]\nmodel = 'kmss'\n",
    "[instances.a]\nmutant = 'nope'\n",
    "mutants = ['replicate_overwrite']\n",
    "mutants = 3\n",
    "[mutants.cancel_not_pending]\nbreaks = 'nope'\n",
    f"[instances.a]\nregions = '{LONG}'\n",
    f"[instances.{LONG}]\nregions = 0\n",
    "",
]


@pytest.mark.parametrize("text", PROJECT_FILES, ids=lambda text: text[:40])
def test_malformed_project_files(text, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mrkcheck.toml").write_text(text)
    code, err, _ = run(["check"], capsys)
    assert_refused(code, err)
    assert err.startswith("mrkcheck: mrkcheck.toml")


def test_unknown_instance_gets_a_suggestion(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mrkcheck.toml").write_text("[instances.five-regions]\nregions = 5\n")
    code, err, _ = run(["check", "--instance", "five-region"], capsys)
    assert_refused(code, err)
    assert "did you mean 'five-regions'?" in err


# --- ITF files ----------------------------------------------------------------------------------


def _example() -> dict:
    return json.loads(EXAMPLE.read_text())


def _with(path_value):
    """The example with one part replaced: (keys..., value)."""
    *keys, value = path_value
    doc = _example()
    target = doc
    for key in keys[:-1]:
        target = target[key]
    target[keys[-1]] = value
    return doc


BAD_TRACES = {
    "truncated": EXAMPLE.read_text()[:300],
    "not JSON": "states: []",
    "a list": "[]",
    "no states": json.dumps({**_example(), "states": []}),
    "vars not names": json.dumps({**_example(), "vars": [1, 2]}),
    "header not an object": json.dumps({**_example(), "#meta": []}),
    "options not an object": json.dumps(_with(["#meta", "options", "yes"])),
    "unknown model": json.dumps(_with(["#meta", "source", "kmss"])),
    "unknown option": json.dumps(_with(["#meta", "options", "regoins", 3])),
    "option 'no'": json.dumps(_with(["#meta", "options", "update_allowed_while_updating", "no"])),
    "option null": json.dumps(_with(["#meta", "options", "update_allowed_while_updating", None])),
    "option list": json.dumps(_with(["#meta", "options", "update_allowed_while_updating", [1]])),
    "key_sets string": json.dumps(_with(["#meta", "options", "key_sets", "1"])),
    "regions null": json.dumps(_with(["#meta", "options", "regions", None])),
    "regions out of range": json.dumps(_with(["#meta", "options", "regions", 99])),
    "unknown mutant": json.dumps(_with(["#meta", "options", "mutant", "update_while_updatin"])),
    "mutant not a name": json.dumps(_with(["#meta", "options", "mutant", 3])),
    "state not an object": json.dumps(_with(["states", 1, "x"])),
    "value out of domain": json.dumps(_with(["states", 1, "key_state", "#map", 0, 1, "Melted"])),
    "missing variable": json.dumps({**_example(), "vars": _example()["vars"][:-1]}),
    "loop out of range": json.dumps({**_example(), "loop": 99}),
    "long value": json.dumps(_with(["#meta", "options", "origins", LONG])),
}


@pytest.mark.parametrize("name", BAD_TRACES)
@pytest.mark.parametrize("command", ["check", "show"])
def test_malformed_traces(name, command, tmp_path, capsys):
    path = tmp_path / "t.itf.json"
    path.write_text(BAD_TRACES[name])
    code, err, _ = run(["trace", command, str(path)], capsys)
    assert_refused(code, err)


def test_a_string_typed_header_option_is_refused_not_read_as_true(tmp_path, capsys):
    """With ``"no"`` (a string, read as true) the real model accepted the trace (exit 0)."""
    doc = _with(["#meta", "options", "update_allowed_while_updating", False])
    path = tmp_path / "t.itf.json"
    path.write_text(json.dumps(doc))
    assert run(["trace", "check", str(path), "--mutant", "none"], capsys)[0] == 12
    doc["#meta"]["options"]["update_allowed_while_updating"] = "no"
    path.write_text(json.dumps(doc))
    code, err, _ = run(["trace", "check", str(path), "--mutant", "none"], capsys)
    assert_refused(code, err)
    assert "update_allowed_while_updating takes true or false, not 'no'" in err


def test_an_unknown_action_is_not_a_run(tmp_path, capsys):
    """A well-formed file whose step names no action of the model: exit 12, as documented."""
    doc = _with(["states", 1, "#meta", "action", "Nope"])
    path = tmp_path / "t.itf.json"
    path.write_text(json.dumps(doc))
    code, err, out = run(["trace", "check", str(path)], capsys)
    assert (code, err) == (12, "")
    assert "step 1" in out


# --- random garbage -----------------------------------------------------------------------------

GARBAGE = st.text(min_size=0, max_size=300)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=5,
)


@given(
    option=st.sampled_from(["--regions", "--key-sets", "--partitions", "--mutant"]), text=GARBAGE
)
@settings(max_examples=60, deadline=None)
def test_random_option_values_build_or_give_one_line(option, text):
    """Building the model (not running it) from any text: a model, or a one-line refusal."""
    try:
        args = make_parser().parse_args(["check", option, text])
        args.model = args.model or "kms"  # the project routing fills it in; no project here
        build_model(args)
    except OneLineError as exc:
        message = str(exc)
        assert "\n" not in message
        assert len(message) < 2 * ECHO_LIMIT + 100


@given(value=JSON_VALUES, option=st.sampled_from(["update_allowed_while_updating", "key_sets"]))
@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_random_header_option_values(value, option, tmp_path, capsys):
    expected = bool if option == "update_allowed_while_updating" else int
    path = tmp_path / "t.itf.json"
    path.write_text(json.dumps(_with(["#meta", "options", option, value])))
    code, err, _ = run(["trace", "check", str(path), "--mutant", "none"], capsys)
    if type(value) is not expected:
        assert_refused(code, err)
    else:
        assert code in (0, 12, BAD_INPUT)  # the value's type is right; the model judges it
        assert "Traceback" not in err and "internal error" not in err
