"""The project file: finding it, reading it, and one-line errors that name the bad key."""

from __future__ import annotations

from pathlib import Path

import pytest

from mrkcheck.ci.project import CAUGHT, HOLDS, ProjectError, find_project, load_project
from mrkcheck.cli import main

REPO = Path(__file__).resolve().parent.parent


def write(folder: Path, text: str, name: str = "mrkcheck.toml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_the_repository_project_names_the_standard_instances():
    project = load_project(REPO / "mrkcheck.toml")
    by_name = {e.name: e for e in project.entries}
    assert by_name["default"].options == {}
    assert by_name["four-regions"].options == {"regions": 4}
    assert by_name["five-regions"].symmetry
    slow = by_name["two-key-sets"]
    assert slow.slow and slow.symmetry
    assert slow.options == {"key_sets": 2, "origins": "AWS_KMS", "max_versions": 1}
    mutants = [e for e in project.entries if e.expect == CAUGHT]
    assert len(mutants) >= 5
    assert all(len(e.properties) == 1 for e in mutants)
    assert "two-key-sets" not in [e.name for e in project.select()]
    assert "two-key-sets" in [e.name for e in project.select(include_slow=True)]


def test_entries_keep_file_order_and_lines(tmp_path):
    path = write(
        tmp_path,
        'model = "twophase"\n\n[instances.small]\nrm = 2\n\n'
        "[instances.big]\nrm = 4\nsymmetry = true\n\n"
        '[mutants.early_commit]\nbreaks = "TCConsistent"\n',
    )
    project = load_project(path)
    assert [e.name for e in project.entries] == ["small", "big", "mutant:early_commit"]
    assert [e.line for e in project.entries] == [3, 6, 10]
    small, big, mutant = project.entries
    assert small.expect == HOLDS and small.options == {"rm": 2}
    assert big.symmetry and big.describe() == "twophase rm=4 symmetry"
    assert mutant.expect == CAUGHT and mutant.properties == ("TCConsistent",)
    assert not mutant.deadlock


def test_mutants_as_a_list_take_their_target_from_the_catalogue(tmp_path):
    path = write(tmp_path, 'model = "twophase"\nmutants = [\n  "early_commit",\n]\n')
    (entry,) = load_project(path).entries
    assert entry.properties == ("TCConsistent",)
    assert entry.line == 3


def test_pyproject_table_and_precedence(tmp_path):
    assert find_project(tmp_path) is None
    write(tmp_path, '[project]\nname = "x"\n', "pyproject.toml")
    assert find_project(tmp_path) is None  # no [tool.mrkcheck]: not a project
    py = write(
        tmp_path,
        '[project]\nname = "x"\n\n[tool.mrkcheck.instances.tiny]\nmodel = "twophase"\nrm = 1\n',
        "pyproject.toml",
    )
    assert find_project(tmp_path) == py
    (entry,) = load_project(py).entries
    assert entry.line == 4 and entry.options == {"rm": 1}
    own = write(tmp_path, '[instances.other]\nmodel = "twophase"\n')
    assert find_project(tmp_path) == own  # mrkcheck.toml wins, as ruff.toml over pyproject.toml


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "[instances.a]\nregoins = 3\n",
            "instances.a: unknown key 'regoins'; did you mean 'regions'?",
        ),
        (
            "[instances.a]\nregions = true\n",
            "instances.a.regions: option regions takes a whole number or a string, not true",
        ),
        ("[instances.a]\nregions = 9\n", "instances.a: regions must be between 1 and 6, not 9"),
        ("[instances.a]\nsymmetry = 'yes'\n", "instances.a.symmetry: expected bool, not 'yes'"),
        ("[instances.a]\nproperties = ['nope']\n", "instances.a: unknown property 'nope'"),
        ("[instances.a]\nproperties = 'x'\n", "instances.a.properties: expected list, not 'x'"),
        ("[instances.a]\nmutant = 'nope'\n", "instances.a: unknown mutant 'nope'"),
        ("mutants = ['nope']\n", "mutants: unknown mutant 'nope'"),
        (
            "[mutants.cancel_not_pending]\nbreaks = 'nope'\n",
            "mutants.cancel_not_pending: unknown property",
        ),
        ("colour = 1\n", "unknown key 'colour'"),
        ("[tool.mrkcheck.instances.a]\n", "unknown key 'tool'"),
        ("model = 'nomodel'\n[instances.a]\n", "instances.a.model: unknown model 'nomodel'"),
        ("instances = 3\n", "instances must be a table"),
        ("[instances.a\n", "not valid TOML"),
        ("", "names no instances and no mutants"),
    ],
)
def test_bad_project_files_name_the_key(tmp_path, text, expected):
    path = write(tmp_path, text)
    with pytest.raises(ProjectError) as caught:
        load_project(path)
    message = str(caught.value)
    assert message.startswith("mrkcheck.toml: ")
    assert expected in message
    assert "\n" not in message


def test_a_bad_project_is_exit_150_with_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "[instances.a]\nregoins = 3\n")
    assert main(["check"]) == 150
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "regoins" in err and "Traceback" not in err


def test_routing_between_project_and_single_instance(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["check", "--all"]) == 150  # --all needs a project file
    assert "need a project file" in capsys.readouterr().err
    write(tmp_path, '[instances.tiny]\nmodel = "twophase"\nrm = 1\n')
    assert main(["check"]) == 0
    assert "PASS  tiny" in capsys.readouterr().out
    assert main(["check", "twophase", "--rm", "2"]) == 0  # a model argument: that one instance
    out = capsys.readouterr().out
    assert "model twophase" in out and "tiny" not in out
    assert main(["check", "--symmetry"]) == 0  # describes one instance: the default model's
    out = capsys.readouterr().out
    assert "model kms" in out and "tiny" not in out
    assert main(["check", "--regions", "2", "--instance", "tiny"]) == 150
    assert main(["check", "--instance", "nope"]) == 150
    assert "unknown instance 'nope'" in capsys.readouterr().err
    assert main(["check", "--project", "missing.toml"]) == 150


def test_explicit_project_file_and_instance_selection(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    path = write(
        tmp_path,
        '[instances.one]\nmodel = "twophase"\nrm = 1\n\n'
        '[instances.two]\nmodel = "twophase"\nrm = 2\nslow = true\n',
        "ci.toml",
    )
    assert main(["check", "--project", str(path)]) == 0
    out = capsys.readouterr().out
    assert "PASS  one" in out and "SKIP  two" in out and "--all" in out
    assert main(["check", "--project", str(path), "--instance", "two"]) == 0
    out = capsys.readouterr().out
    assert "PASS  two" in out and "one" not in out.replace("of 1 entries", "")


def test_the_example_in_docs_ci_is_a_valid_project(tmp_path):
    """docs/ci.md's example project file must load: a reader copies it."""
    text = (REPO / "docs" / "ci.md").read_text(encoding="utf-8")
    example = text.split("```toml\n", 1)[1].split("```", 1)[0]
    project = load_project(write(tmp_path, example))
    names = [e.name for e in project.entries]
    assert "two-key-sets" in names and "mutant:sync_skips_rotation" in names
