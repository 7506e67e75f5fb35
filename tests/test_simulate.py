"""``mrkcheck simulate``: random walks find a seeded bug on an instance too large to explore, shrink
it to the explicit search's shortest length, write it as a trace the model replays, and repeat
themselves under the same seed."""

from __future__ import annotations

import json
from pathlib import Path

from mrkcheck.check.simulate import simulate
from mrkcheck.cli import main
from mrkcheck.registry import model_builder

EXAMPLES = Path(__file__).resolve().parent.parent / "traces" / "examples"


def _shortest(mutant: str) -> int:
    doc = json.loads((EXAMPLES / f"kms-{mutant}.itf.json").read_text())
    return len(doc["states"]) - 1


def test_simulate_finds_and_shrinks_a_mutant_on_5_regions_2_key_sets(tmp_path, capsys):
    code = main(["simulate", "--regions", "5", "--key-sets", "2", "--mutant",
                 "promote_before_demote", "--n-traces", "300", "--seed", "3",
                 "--out", str(tmp_path), "--quiet"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 12
    assert "Property one_primary_per_key_set is violated" in out
    assert "seed: 3" in out and "traces/s" in out and "steps/s" in out
    [written] = sorted(tmp_path.glob("*.itf.json"))
    doc = json.loads(written.read_text())
    assert len(doc["states"]) - 1 <= _shortest("promote_before_demote")
    assert main(["trace", "check", str(written)]) == 0


def test_the_same_seed_gives_the_same_walks():
    model = model_builder("kms", "replicate_overwrites")(regions="4", key_sets=2)
    first = simulate(model, 200, 30, seed=11)
    second = simulate(model, 200, 30, seed=11)
    assert first.violated == second.violated == "one_key_per_region"
    assert (first.traces, first.steps, first.found_at) == (
        second.traces,
        second.steps,
        second.found_at,
    )
    assert first.trace is not None and second.trace is not None
    assert [s.label for s in first.trace.steps] == [s.label for s in second.trace.steps]
    assert len(first.trace.steps) - 1 <= _shortest("replicate_overwrites")


def test_the_correct_model_walks_without_violation(capsys):
    """The documented counterexamples (expected VIOLATED) are not reported, as a check does not."""
    code = main(["simulate", "--regions", "3", "--n-traces", "20", "--max-steps", "30",
                 "--seed", "1", "--json", "--quiet"])  # fmt: skip
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and data["violated"] is None
    assert data["walks"] >= 20 and 0 < data["steps"] <= data["walks"] * 30
    assert data["steps_per_second"] > 0


def test_bad_input_is_one_line(capsys):
    assert main(["simulate", "--n-traces", "0"]) == 150
    assert capsys.readouterr().err.count("\n") == 1
