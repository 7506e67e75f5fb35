"""What a conformant KMS endpoint may answer, by the model's reading of the documents (§3, §4, §6).

The conformance runner (:mod:`mrkcheck.traces.conform`) drives any endpoint and compares; the
KMS-specific expectations it compares with live here, next to the model they come from: which
exceptions a refused call may return (the first failing guard's, DisabledException too in §4's
"X2/3" cells), which environment steps DescribeKey can see, and the fields of a successful
response.
"""

from __future__ import annotations

from typing import Any

from mrkcheck.lang.model import ActionInstance, Guard, Model, State
from mrkcheck.lang.scenario import Scenario

from .actions import MODEL_BOUND
from .rules import DISABLED

# Environment steps DescribeKey can see. Sync and AutomaticRotation change only rotation flags
# and material versions, which no DescribeKey field shows and (for AWS_KMS keys, whose versions
# never fall behind a ciphertext) no prediction the runner makes depends on.
VISIBLE_ENVIRONMENT = (
    "CompleteCreate",
    "CompleteUpdate",
    "DeletionDue",
    "PrimaryDeletionStarts",
    "MaterialExpires",
)
X23_ROWS = ("ReplicateKey", "UpdatePrimaryRegion", "Encrypt", "Decrypt")  # §4 "X2/3" cells


def model_bound(guard: Guard) -> bool:
    """A refusal by the model's bound on material versions (``max_versions``), not by a rule of
    KMS: such a call means nothing on the wire."""
    return guard.identity is not None and guard.identity.case == MODEL_BOUND


def accepted_errors(model: Model, inst: ActionInstance, state: State) -> tuple[str, ...]:
    """The exceptions a conformant endpoint may return for a refused call: the first failing
    guard's; DisabledException too where §4 says X2/3; every failing guard's with guard_order=any."""
    failing = inst.failing_guards(state)
    errors = [failing[0].error]
    if model.option("guard_order") == "any":
        errors += [g.error for g in failing]
    if inst.action in X23_ROWS and _x23_cell(failing[0]):
        errors.append(DISABLED)
    return tuple(dict.fromkeys(e for e in errors if e))


def _x23_cell(guard: Guard) -> bool:
    """A §4 "X2/3" refusal: a key pending (replica) deletion, which the model answers with fn3
    and KMS may answer with DisabledException (fn2) instead."""
    cell = guard.identity
    return cell is not None and cell.rule == "§4" and cell.footnote == "fn3"


def expected_response(
    model: Model, scenario: Scenario, inst: ActionInstance
) -> dict[str, list[Any]]:
    """The response fields a successful call may return (§3, §6), after the model applied it."""
    s, r = inst.param("s"), inst.param("r")
    if inst.action == "CreateKey":
        return {"KeyState": [scenario.value("key_state", s, r)], "MultiRegionKeyType": ["PRIMARY"]}
    if inst.action == "ReplicateKey":
        replica = inst.param("replica")
        done = "PendingImport" if scenario.value("versions", s, replica) == "0" else "Enabled"
        return {"KeyState": ["Creating", done], "MultiRegionKeyType": ["REPLICA"]}
    if inst.action == "ScheduleKeyDeletion":
        return {"KeyState": [scenario.value("key_state", s, r)]}
    if inst.action == "Decrypt":
        return {"PlaintextMatches": [True]}
    return {}
