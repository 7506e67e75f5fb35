"""mrkcheck.testing: model-checking assertions in a user's own test suite."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from mrkcheck.check.result import CheckResult, Trace
from mrkcheck.examples.twophase import build as build_twophase
from mrkcheck.lang.model import Invariant, Model, Property
from mrkcheck.model.kms import build as build_kms
from mrkcheck.model.rules import KeyState
from mrkcheck.testing import assert_holds, assert_violated


def never_pending_deletion(model: Model) -> Property:
    """A user's own (false) assumption: the first key is never scheduled for deletion."""
    slot = model.schema.variable("key_state")["k1", "us-east-1"]
    return Invariant("never_pending_deletion", slot.ne(KeyState.PendingDeletion))


def test_holds_by_name_factory_and_model():
    assert isinstance(assert_holds("twophase", rm=2), CheckResult)
    assert_holds(build_twophase, "TCConsistent", rm=2)
    assert_holds(build_twophase(rm=2), ["TCConsistent", "TMCommitImpliesAllPrepared"])
    result = assert_holds("kms", regions=2)  # documented counterexamples are allowed
    assert result.result("describe_key_shows_one_primary").status == "violated"


def test_a_named_documented_counterexample_must_hold_when_asked():
    with pytest.raises(AssertionError, match="describe_key_shows_one_primary is violated"):
        assert_holds("kms", "describe_key_shows_one_primary", regions=2)


def test_violation_message_has_the_table():
    with pytest.raises(AssertionError) as caught:
        assert_holds("kms", mutant="promote_before_demote", regions=2)
    message = str(caught.value)
    assert message.startswith("one_primary_per_key_set is violated on kms regions=2 mutant=")
    assert "Counterexample (4 steps)" in message and "* marks a change" in message


def test_violated_returns_the_shortest_trace():
    trace = assert_violated("twophase", "TCConsistent", mutant="early_commit", max_length=3, rm=2)
    assert isinstance(trace, Trace) and len(trace) == 3
    with pytest.raises(AssertionError, match="more than max_length=2"):
        assert_violated("twophase", "TCConsistent", 2, mutant="early_commit", rm=2)
    with pytest.raises(AssertionError, match="TCConsistent holds on twophase rm=2"):
        assert_violated("twophase", "TCConsistent", rm=2)


def test_own_property_as_a_function_of_the_model():
    trace = assert_violated(build_kms, never_pending_deletion, max_length=2, regions=2)
    assert trace.steps[-1].action == "ScheduleKeyDeletion"
    with pytest.raises(AssertionError, match="never_pending_deletion is violated"):
        assert_holds("kms", never_pending_deletion, regions=2)


def test_limits_prove_nothing():
    with pytest.raises(AssertionError, match="no verdict"):
        assert_holds("kms", "one_primary_per_key_set", max_states=50)


def test_bad_arguments():
    with pytest.raises(TypeError, match="built Model"):
        assert_holds(build_twophase(), rm=3)
    with pytest.raises(ValueError, match="unknown model"):
        assert_holds("nope")
    with pytest.raises(ValueError, match="unknown mutant"):
        assert_holds("twophase", mutant="nope")


SCRATCH_TEST = """
from mrkcheck.testing import assert_holds, assert_violated


def test_update_keeps_one_primary():
    assert_holds("kms", "one_primary_per_key_set", mutant="promote_before_demote", regions=2)


def test_bug_is_caught():
    assert_violated("twophase", "TCConsistent", mutant="early_commit", max_length=3)
"""


def test_pytest_in_a_scratch_project_shows_the_counterexample(tmp_path):
    """A user's project: its own tests call mrkcheck.testing; pytest reports the counterexample."""
    (tmp_path / "test_my_model.py").write_text(textwrap.dedent(SCRATCH_TEST))
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = done.stdout
    assert done.returncode == 1, out + done.stderr
    assert "1 failed, 1 passed" in out
    assert "AssertionError: one_primary_per_key_set is violated on kms regions=2" in out
    assert "UpdatePrimaryRegi" in out and "* marks a change" in out
    assert "__tracebackhide__" not in out


def test_liveness_properties_are_decided():
    trace = assert_violated(
        "kms", "creating_completes", mutant="creation_never_completes", regions=2
    )
    assert trace.loop is not None  # a lasso: the run stays stuck forever
    result = assert_holds("kms", liveness=False, regions=2)
    assert all(r.checked.kind != "eventually" for r in result.properties)
