"""``mrkcheck prove`` as a newcomer meets it (issue 17): the README's ``prove --induction`` passes
on the shipped model, proofs do not wait behind bounded model checking, a bare ``prove`` searches
to a depth that takes seconds, and the proofs report progress in a log."""

from __future__ import annotations

import json

import pytest

from mrkcheck.check import report
from mrkcheck.check.explicit import reachable
from mrkcheck.check.symbolic import inductive
from mrkcheck.cli import main
from mrkcheck.cli.prove import DEFAULT_DEPTH
from mrkcheck.lang.expr import evaluate
from mrkcheck.lang.model import ACTION, ALWAYS
from mrkcheck.model import kms, kms_lemmas


def test_prove_induction_passes_on_the_shipped_model(tmp_path, capsys):
    """The README's command, as written: exit 0, every invariant and action property proved by
    induction, the documented counterexample still refuted, and no BMC run first."""
    out = tmp_path / "prove.json"
    assert main(["prove", "--induction", "--quiet", "--json", str(out)]) == 0, capsys.readouterr()
    data = json.loads(out.read_text())
    assert data["bmc_depth"] is None
    checked = [p for p in data["properties"] if p["kind"] in (ALWAYS, ACTION)]
    assert len(checked) == 22  # 21 that hold and describe_key_shows_one_primary
    for p in checked:
        assert p["bmc"] is None
        wanted = "violated" if p["expected"] == "violated" else "holds"
        assert p["induction"]["status"] == wanted, p
    text = capsys.readouterr().out
    assert "ciphertext_decryptable_everywhere: proved (induction" in text
    assert "bounded model checking: not run" in text


@pytest.mark.parametrize(
    "regions, count", [(2, 1_090), pytest.param(3, 20_940, marks=pytest.mark.slow)]
)
def test_every_lemma_holds_on_every_reachable_state(regions, count):
    """A second engine agrees: the lemmas Z3 proved inductive are true in every reachable state
    (the explicit search, not Z3; 3 Regions, the default instance, under ``-m slow``)."""
    model = kms.build(regions=regions)
    named = kms_lemmas.lemmas(model)
    assert set(kms_lemmas.INSTANCE_ONLY) <= {p.name for p in named}
    states = reachable(model)
    assert len(states) == count
    for lemma in named:
        assert all(evaluate(lemma.expr, s) for s in states), lemma.name


@pytest.mark.parametrize("left_out", kms_lemmas.INSTANCE_ONLY)
def test_the_ciphertext_lemmas_are_needed(left_out):
    """Without either new lemma, S10 is not inductive: the proof rests on both."""
    model = kms.build()
    lemmas = [p for p in kms_lemmas.lemmas(model) if p.name != left_out]
    result = inductive(model, "ciphertext_decryptable_everywhere", lemmas)
    assert not result.holds and result.cti is not None


def test_any_regions_lemmas_leave_out_the_ciphertext_ones():
    names = {p.name for p in kms_lemmas.any_size_lemmas(kms.build())}
    assert names and not names & set(kms_lemmas.INSTANCE_ONLY)


def _prove_json(argv: list[str], tmp_path) -> dict:
    out = tmp_path / "p.json"
    assert main(["prove", *argv, "--quiet", "--json", str(out)]) == 0
    return json.loads(out.read_text())


def test_a_bare_prove_searches_to_the_default_depth(tmp_path):
    assert _prove_json(["twophase", "--rm", "2"], tmp_path)["bmc_depth"] == DEFAULT_DEPTH


def test_proofs_run_without_bmc_unless_a_depth_is_given(tmp_path):
    alone = _prove_json(["twophase", "--rm", "2", "--any-regions", "--induction"], tmp_path)
    assert alone["bmc_depth"] is None and alone["proved_for_any_number_of_regions"]
    both = _prove_json(["twophase", "--rm", "2", "--induction", "--depth", "3"], tmp_path)
    assert both["bmc_depth"] == 3


def test_proofs_print_progress_lines_in_a_log(monkeypatch, capsys):
    monkeypatch.setattr(report, "LOG_PERIOD", 0.0)
    assert main(["prove", "twophase", "--rm", "2", "--induction", "--any-regions"]) == 0
    lines = [x for x in capsys.readouterr().err.splitlines() if x.startswith("progress: ")]
    assert any(x.startswith("progress: prove: induction of TCConsistent") for x in lines)
    assert any(x.startswith("progress: prove: any number of Regions") for x in lines)
