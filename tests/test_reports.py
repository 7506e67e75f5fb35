"""CI reports: `mrkcheck check` on a project file writes JUnit XML, JSON and GitHub annotations."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from mrkcheck.check.explicit import check
from mrkcheck.ci.reports import (
    EXIT_ESCAPED,
    FAILED,
    Run,
    cases,
    exit_code,
    github_annotations,
    junit_xml,
)
from mrkcheck.cli import main
from mrkcheck.model.kms import build as build_kms

PROJECT = """\
model = "twophase"

[instances.small]
rm = 2

[instances.buggy]
description = "a seeded bug checked as an instance: its properties fail"
mutant = "early_commit"
rm = 2

[instances.huge]
rm = 6
slow = true

[instances.kms-buggy]
model = "kms"
regions = 2
mutant = "promote_before_demote"

[mutants.early_commit]
rm = 2
"""
KMS_PROPERTIES = len(build_kms(regions=2).properties)


@pytest.fixture(scope="module")
def project_run(tmp_path_factory):
    """One `mrkcheck check --junit --json` run of PROJECT, shared by the tests below."""
    folder = tmp_path_factory.mktemp("project")
    (folder / "mrkcheck.toml").write_text(PROJECT, encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(folder)
        mp.delenv("GITHUB_ACTIONS", raising=False)
        code = main(
            ["check", "--junit", "reports/report.xml", "--json", "reports/report.json"]
            + ["--out", "traces", "--continue"]  # every violated property, for the reports
        )
    return code, folder


def suites(root: ET.Element) -> dict[str, ET.Element]:
    return {s.get("name"): s for s in root.iter("testsuite")}


def test_exit_code_is_the_safety_violation(project_run):
    code, _ = project_run
    assert code == 12


def test_junit_counts(project_run):
    _, folder = project_run
    root = ET.parse(folder / "reports" / "report.xml").getroot()
    assert root.tag == "testsuites"
    by_name = suites(root)
    assert list(by_name) == ["small", "buggy", "huge", "kms-buggy", "mutant:early_commit"]
    counts = {
        name: (s.get("tests"), s.get("failures"), s.get("skipped")) for name, s in by_name.items()
    }
    assert counts["small"] == ("2", "0", "0")
    assert counts["buggy"] == ("2", "2", "0")
    assert counts["huge"] == ("2", "0", "2")  # slow: listed, skipped
    assert counts["mutant:early_commit"] == ("1", "0", "0")  # the mutant is caught: a pass
    kms = by_name["kms-buggy"]
    assert kms.get("tests") == str(KMS_PROPERTIES)
    assert int(kms.get("failures")) >= 1
    total = sum(int(s.get("tests")) for s in by_name.values())
    assert root.get("tests") == str(total) == str(7 + KMS_PROPERTIES)
    assert root.get("failures") == str(2 + int(kms.get("failures")))
    assert root.get("skipped") == "2"
    for case in root.iter("testcase"):  # classname = instance name
        assert case.get("classname") in by_name
        assert case.get("name")


def test_junit_failure_text_is_the_counterexample(project_run):
    _, folder = project_run
    root = ET.parse(folder / "reports" / "report.xml").getroot()
    cases_by_id = {(c.get("classname"), c.get("name")): c for c in root.iter("testcase")}
    failure = cases_by_id[("kms-buggy", "one_primary_per_key_set")].find("failure")
    assert failure is not None and failure.get("type") == "violation"
    assert "one_primary_per_key_set is violated" in failure.get("message")
    assert "UpdatePrimaryRegi" in failure.text and "* marks a change" in failure.text
    assert "UpdatePrimaryRegion(s=k1" in failure.text  # full labels above the table
    tc = cases_by_id[("buggy", "TCConsistent")].find("failure")
    assert "TMCommit()" in tc.text
    caught = cases_by_id[("mutant:early_commit", "TCConsistent")]
    assert caught.find("failure") is None
    assert "caught" in caught.find("system-out").text
    assert cases_by_id[("huge", "TCConsistent")].find("skipped").get("message").startswith("slow")


def test_json_report(project_run):
    _, folder = project_run
    report = json.loads((folder / "reports" / "report.json").read_text())
    assert report["exit_code"] == 12
    assert report["project"].endswith("mrkcheck.toml")
    runs = {r["name"]: r for r in report["runs"]}
    assert runs["huge"]["skipped"].startswith("slow") and runs["huge"]["summary"] is None
    assert runs["small"]["summary"]["stats"]["distinct"] > 0
    assert [c["outcome"] for c in runs["buggy"]["cases"]] == ["failed", "failed"]
    assert runs["mutant:early_commit"]["expect"] == "caught"
    totals = report["totals"]
    assert totals["tests"] == 7 + KMS_PROPERTIES
    assert totals["passed"] + totals["failed"] + totals["skipped"] == totals["tests"]


def test_traces_are_written_per_entry(project_run):
    _, folder = project_run
    written = sorted(
        p.relative_to(folder / "traces").as_posix() for p in (folder / "traces").rglob("*.json")
    )
    assert "buggy/twophase-TCConsistent.itf.json" in written
    assert "mutant-early_commit/twophase-TCConsistent.itf.json" in written
    assert not (folder / "traces" / "small").exists()  # nothing to write, no folder


def test_github_annotations_and_step_summary(tmp_path, monkeypatch, capsys):
    (tmp_path / "mrkcheck.toml").write_text(
        'model = "twophase"\n\n[instances.buggy]\nmutant = "early_commit"\nrm = 2\n'
    )
    summary = tmp_path / "summary.md"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    assert main(["check", "--continue"]) == 12  # both violated properties annotated
    lines = [x for x in capsys.readouterr().out.splitlines() if x.startswith("::error")]
    assert len(lines) == 2
    head, _, body = lines[0].partition("::")[2].partition("::")
    assert head == "error file=mrkcheck.toml,line=3,title=mrkcheck buggy%3A TCConsistent"
    assert "%0A" in body and "TMCommit()" in body  # the table, on one line
    assert "| buggy |" in summary.read_text()


def test_an_escaped_mutant_fails_with_its_own_exit_code(tmp_path, monkeypatch, capsys):
    (tmp_path / "mrkcheck.toml").write_text(
        '[mutants.cancel_not_pending]\nregions = 2\nbreaks = "one_primary_per_key_set"\n'
    )
    monkeypatch.chdir(tmp_path)
    assert main(["check", "--junit", "r.xml"]) == EXIT_ESCAPED
    assert "mutant escaped" in capsys.readouterr().out
    failure = ET.parse(tmp_path / "r.xml").getroot().find(".//failure")
    assert failure.get("type") == "escaped"


def test_single_instance_check_writes_junit(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "one.xml"
    argv = ["check", "twophase", "--mutant", "early_commit", "--junit", str(path)]
    assert main([*argv, "--continue"]) == 12
    root = ET.parse(path).getroot()
    assert root.get("tests") == "2" and root.get("failures") == "2"
    assert main(argv) == 12  # stopped at the first violation: the other property is skipped
    root = ET.parse(path).getroot()
    assert (root.get("failures"), root.get("skipped")) == ("1", "1")
    assert {c.get("classname") for c in root.iter("testcase")} == {"twophase:early_commit"}


def test_a_deadlock_is_one_more_failing_case():
    model = build_kms(regions=2)
    result = check(model)
    some_trace = next(r.trace for r in result.properties if r.trace is not None)
    result.deadlock = some_trace
    run = Run("r1", result=result)
    found = cases(run)
    assert found[-1].name == "deadlock" and found[-1].outcome == FAILED
    assert exit_code([run]) == 11
    assert 'name="deadlock"' in junit_xml([run])


def test_annotation_escaping():
    model = build_kms(regions=2)
    run = Run("a,b:c", result=check(model), file="dir/mrkcheck.toml", line=7)
    run.result.deadlock = next(r.trace for r in run.result.properties if r.trace is not None)
    (line,) = github_annotations([run])
    assert line.startswith(
        "::error file=dir/mrkcheck.toml,line=7,title=mrkcheck a%2Cb%3Ac%3A deadlock::"
    )
    assert "\n" not in line


def test_reports_import_nothing_from_the_model():
    source = Path(__file__).parent.parent / "mrkcheck" / "ci" / "reports.py"
    assert "mrkcheck.model" not in source.read_text()


def test_liveness_in_a_project(tmp_path, monkeypatch, capsys):
    """'eventually' properties are decided per entry (skipped, with the reason, when an entry
    opts out); a liveness violation is exit 13 and a liveness mutant can be caught."""
    (tmp_path / "mrkcheck.toml").write_text(
        "[instances.safety-only]\nregions = 2\nliveness = false\n\n"
        '[instances.stuck]\nregions = 2\nmutant = "creation_never_completes"\n\n'
        "[mutants.update_never_completes]\nregions = 2\n"
    )
    monkeypatch.chdir(tmp_path)
    assert main(["check", "--junit", "r.xml"]) == 13
    root = ET.parse(tmp_path / "r.xml").getroot()
    by_id = {(c.get("classname"), c.get("name")): c for c in root.iter("testcase")}
    skipped = by_id[("safety-only", "creating_completes")].find("skipped")
    assert "liveness not checked" in skipped.get("message")
    failure = by_id[("stuck", "creating_completes")].find("failure")
    assert failure.get("type") == "liveness"
    assert by_id[("mutant:update_never_completes", "update_completes")].find("failure") is None
