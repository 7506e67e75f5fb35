"""docs/modelling.md runs: its Python blocks are executed in order, in one namespace, and the
counts and verdicts they state are asserted by the blocks themselves."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "modelling.md"
BLOCK = re.compile(r"^```python\n(.*?)^```$", re.DOTALL | re.MULTILINE)


def python_blocks() -> list[str]:
    return BLOCK.findall(DOC.read_text())


def test_the_page_has_examples_that_assert_what_they_claim():
    blocks = python_blocks()
    assert len(blocks) >= 6
    assert sum(block.count("assert ") for block in blocks) >= 15


def test_every_python_block_runs_in_order(capsys):
    namespace: dict = {"__name__": "docs_modelling"}
    for number, block in enumerate(python_blocks(), start=1):
        code = compile(block, f"{DOC.name} block {number}", "exec")
        exec(code, namespace)  # noqa: S102 - the documentation's own examples
    printed = capsys.readouterr().out.splitlines()
    # The two refused habits print their one-line messages.
    assert printed[0].startswith("rmState[rm1] == working: ")
    assert printed[1].startswith("a model expression has no truth value in Python")
    assert namespace["twophase"].action_names == [
        "TMRcvPrepared", "TMCommit", "TMAbort", "RMPrepare", "RMChooseToAbort",
        "RMRcvCommitMsg", "RMRcvAbortMsg",
    ]  # fmt: skip


def test_the_documented_twophase_is_the_shipped_example():
    """The page's model and mrkcheck/examples/twophase.py give the same graph (TLC's counts)."""
    from mrkcheck.examples.twophase import build
    from mrkcheck.explicit import reachable

    namespace: dict = {"__name__": "docs_modelling"}
    for block in python_blocks()[:4]:
        exec(block, namespace)  # noqa: S102
    documented = reachable(namespace["twophase"])
    assert set(documented) == set(reachable(build(3)))
