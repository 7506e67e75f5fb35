"""What a conformant KMS endpoint may answer, by the model's reading of the documents (§3, §4, §6).

The conformance runner (:mod:`mrkcheck.traces.conform`) drives any endpoint and compares; the
KMS-specific expectations it compares with live here, next to the model they come from: which
exceptions a refused call may return (the first failing guard's, DisabledException too in §4's
"X2/3" cells), which environment steps DescribeKey can see, and the fields of a successful
response.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mrkcheck.lang.model import ActionInstance, Guard, Model, State
from mrkcheck.lang.scenario import Scenario

from .actions import MODEL_BOUND
from .rules import DISABLED, NOT_FOUND, UNSUPPORTED

VALIDATION = "ValidationException"

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
    """The response fields a successful call may return (§3, §6), after the model applied it.
    Derived fields the endpoint side computes: ``KeyIdFormat`` (``mrk-`` + 32 hex digits, §1),
    ``KeyIdIsArn`` (the key's ARN in the calling Region), ``HasDeletionDate`` (§3.4: absent for
    a primary waiting for its replicas), ``ReplicaPolicyPresent`` (§3.2's output)."""
    s, r = inst.param("s"), inst.param("r")
    if inst.action == "CreateKey":
        return {
            "KeyState": [scenario.value("key_state", s, r)],
            "MultiRegionKeyType": ["PRIMARY"],
            "KeyIdFormat": [True],
        }
    if inst.action == "ReplicateKey":
        replica = inst.param("replica")
        done = "PendingImport" if scenario.value("versions", s, replica) == "0" else "Enabled"
        return {
            "KeyState": ["Creating", done],
            "MultiRegionKeyType": ["REPLICA"],
            "KeyIdFormat": [True],
            "ReplicaPolicyPresent": [True],
        }
    if inst.action == "ScheduleKeyDeletion":
        state = scenario.value("key_state", s, r)
        return {
            "KeyState": [state],
            "HasDeletionDate": [state != "PendingReplicaDeletion"],
            "KeyIdIsArn": [True],
        }
    if inst.action == "CancelKeyDeletion":
        return {"KeyIdIsArn": [True]}
    if inst.action == "Decrypt":
        return {"PlaintextMatches": [True]}
    return {}


RESPONSE_RULES = {
    "KeyState": "§3.2/§6 (a new replica is Creating or Enabled); §3.4, §5 rule 3",
    "MultiRegionKeyType": "§3.1, §3.2: a new key's MultiRegionKeyType",
    "KeyIdFormat": "§1: a key ID is mrk- and 32 hex digits",
    "KeyIdIsArn": "§3.4, §3.5: the response's KeyId is the key's ARN",
    "HasDeletionDate": "§3.4: DeletionDate is absent for a primary with replicas",
    "ReplicaPolicyPresent": "§3.2 output: ReplicaPolicy",
    "ReplicaTags": "§3.2 output: ReplicaTags are the tags given",
    "ReplicaPolicy": "§3.2 output: ReplicaPolicy is the Policy given (§2: not the primary's)",
    "Description": "§2: a replica's description comes from the call, never from the primary",
    "PlaintextMatches": "§3.10: Decrypt gives the plaintext back",
}


def rotation_status(model: Model, state: State, s: str, r: str) -> str | list[bool] | None:
    """What GetKeyRotationStatus may answer for the key of ``s`` in ``r``: None (NotFound), an
    exception name, or the flags allowed: the key's own copy or, after a Sync, the primary's (§2);
    false too while pending deletion (§6, ROT)."""
    values = model.decode(state)
    key_state = values["key_state"][(s, r)]
    if key_state == "Absent":
        return None
    if values["origin"][(s,)] == "EXTERNAL":
        return UNSUPPORTED  # §4 fn6/fn7: no rotation status for imported material
    regions = model.universe("Region").elements
    primary = next((x for x in regions if values["role"][(s, x)] == "PRIMARY"), r)
    flags = [_flag(values["rotation"][(s, r)]), _flag(values["rotation"][(s, primary)])]
    if key_state in ("PendingDeletion", "PendingReplicaDeletion"):
        flags.append(False)
    return sorted(set(flags))


def _flag(value: Any) -> bool:
    return str(value).lower() == "true"


# --- the documented choices a lenient run accepts (§3 Q16, §4 [I], §6) ---------------------------

# §4 rows the documents mark inferred [I]: the state guards of these rows are the model's guess,
# so by default any documented state exception, or success, is accepted where they refuse.
INFERRED_ROWS = ("RotateKeyOnDemand",)
STATE_ERRORS = (DISABLED, "KMSInvalidStateException")


def inferred_cell(guard: Guard) -> bool:
    """A refusal by a §4 cell of a row the documents only infer (RotateKeyOnDemand, Q10)."""
    cell = guard.identity
    return cell is not None and cell.rule == "§4" and cell.operation in INFERRED_ROWS


def lenient_errors(model: Model, inst: ActionInstance, state: State) -> tuple[str, ...]:
    """Every error a documented reading allows for a refused call: any failing guard's (Q16: the
    guard order is undocumented), DisabledException in the X2/3 cells, and any state exception
    where only an inferred §4 row refuses."""
    failing = inst.failing_guards(state)
    errors = list(accepted_errors(model, inst, state))
    errors += [g.error for g in failing if g.error and not model_bound(g)]
    if any(inferred_cell(g) for g in failing):
        errors += STATE_ERRORS
    for g in failing:
        if _x23_cell(g) and inst.action in X23_ROWS:
            errors.append(DISABLED)
    return tuple(dict.fromkeys(errors))


def success_is_a_reading(inst: ActionInstance, state: State) -> bool:
    """Success is a documented reading when only inferred §4 cells refuse the call."""
    failing = inst.failing_guards(state)
    return bool(failing) and all(inferred_cell(g) for g in failing)


# --- inputs beyond the model's parameters (§3's parameter rules) ----------------------------------

# A probe changes one input of a call to a documented invalid (or optional) form. Each maps to
# the exceptions a conformant endpoint may answer (first: the one the suggested §3 order gives),
# the operations it applies to, and the rule it checks. "params" and the valid windows expect
# what the model predicts for the call itself.
KEY_OPERATIONS = (
    "ReplicateKey",
    "UpdatePrimaryRegion",
    "ScheduleKeyDeletion",
    "CancelKeyDeletion",
    "EnableKey",
    "DisableKey",
    "EnableKeyRotation",
    "DisableKeyRotation",
    "RotateKeyOnDemand",
    "DeleteImportedKeyMaterial",
    "Encrypt",
)


@dataclass(frozen=True)
class Probe:
    name: str
    operations: tuple[str, ...]
    errors: tuple[str, ...]  # () = as the model predicts for the call
    rule: str


PROBES = (
    Probe(
        "malformed-arn",
        KEY_OPERATIONS,
        ("InvalidArnException", NOT_FOUND),
        "§3 guard 1: a malformed ARN (InvalidArn)",
    ),
    Probe(
        "other-region-arn",
        KEY_OPERATIONS,
        (NOT_FOUND, "InvalidArnException"),
        "§1: an ARN names its Region; another Region's key is not found",
    ),
    Probe(
        "window-6", ("ScheduleKeyDeletion",), (VALIDATION,), "§3.4 PendingWindowInDays 7..30 (Q12)"
    ),
    Probe("window-7", ("ScheduleKeyDeletion",), (), "§3.4 PendingWindowInDays 7..30 (Q12)"),
    Probe("window-30", ("ScheduleKeyDeletion",), (), "§3.4 PendingWindowInDays 7..30 (Q12)"),
    Probe(
        "window-31", ("ScheduleKeyDeletion",), (VALIDATION,), "§3.4 PendingWindowInDays 7..30 (Q12)"
    ),
    Probe(
        "malformed-region",
        ("ReplicateKey",),
        (VALIDATION,),
        "§3.2 ReplicaRegion matches ^([a-z]+-){2,3}\\d+$",
    ),
    Probe(
        "unknown-region",
        ("ReplicateKey",),
        (UNSUPPORTED, VALIDATION),
        "§3.2.5 the Region exists and supports multi-Region keys (Q2)",
    ),
    Probe(
        "single-region-key", ("ReplicateKey",), (UNSUPPORTED,), "§3.2.2 only an MRK primary (Q2)"
    ),
    Probe("params", ("ReplicateKey",), (), "§2, §3.2: independent properties from the parameters"),
)
PROBE_BY_NAME = {p.name: p for p in PROBES}


def probes_for(action: str) -> list[Probe]:
    return [p for p in PROBES if action in p.operations]


# --- retiring a key set the endpoint took somewhere the model cannot follow -----------------------


def retire_key_set(model: Model, state: State, key_set: str) -> State:
    """``state`` with every slot of ``key_set`` back to its initial value: the runner continues
    with a fresh key set in its place (key sets touch disjoint variables, so the result is a
    state of the model: the other sets' histories with this set never created)."""
    initial = model.initial[0]
    out = list(state)
    for _var, index, slot in model.schema.slots():
        if key_set in index:
            out[slot] = initial[slot]
    return tuple(out)


# --- the rule each operation's success follows, for readable findings -----------------------------

SECTION = {
    "CreateKey": "§3.1",
    "ReplicateKey": "§3.2",
    "UpdatePrimaryRegion": "§3.3",
    "ScheduleKeyDeletion": "§3.4",
    "CancelKeyDeletion": "§3.5",
    "EnableKey": "§3.6",
    "DisableKey": "§3.6",
    "EnableKeyRotation": "§3.7",
    "DisableKeyRotation": "§3.7",
    "RotateKeyOnDemand": "§3.8",
    "DeleteImportedKeyMaterial": "§3.9",
    "Encrypt": "§3.10",
    "Decrypt": "§3.10",
    "GetKeyRotationStatus": "§3.7, §2 Sync",
}


# --- the documented outcomes a run should reach (the coverage table) ------------------------------


def documented_outcomes(model: Model, skip: tuple[str, ...] = ()) -> dict[str, list[str]]:
    """Per driven operation, the outcomes the documents define for it on this instance: success
    and each exception a guard (or a probe, or GetKeyRotationStatus's reading) predicts first.
    Guards that cannot fail on the instance are left out: the partition check with one
    partition, and without EXTERNAL keys the origin checks, the PendingImport cells and the
    outcomes of deleting imported material."""
    from .actions import MODEL_BOUND as BOUND

    external = "EXTERNAL" in model.universe("Origin").elements
    out: dict[str, list[str]] = {}
    for inst in model.instances:
        if inst.environment or inst.action in skip or inst.action == "ImportKeyMaterial":
            continue
        outcomes = out.setdefault(inst.action, ["success"])
        for g in inst.guards:
            if g.error is None or _never_fails(g) or (g.identity and g.identity.case == BOUND):
                continue
            if (not external and _needs_external(g)) or _needs_import(g):
                continue
            if g.error not in outcomes:
                outcomes.append(g.error)
        for probe in probes_for(inst.action):
            if probe.errors and probe.errors[0] not in outcomes:
                outcomes.append(probe.errors[0])
    if not external and "DeleteImportedKeyMaterial" in out:
        out["DeleteImportedKeyMaterial"].remove("success")
    out["GetKeyRotationStatus"] = ["success", NOT_FOUND] + ([UNSUPPORTED] if external else [])
    return out


def _never_fails(guard: Guard) -> bool:
    from mrkcheck.lang.expr import Const

    return isinstance(guard.condition, Const) and bool(guard.condition.value)


def _needs_external(guard: Guard) -> bool:
    cell = guard.identity
    if cell is None:
        return False
    return (
        cell.key_state == "PendingImport"
        or cell.case in ("AWS_KMS origin", "material version")
        or (cell.operation == "DeleteImportedKeyMaterial" and cell.rule == "§4")
    )


def _needs_import(guard: Guard) -> bool:
    """ImportKeyMaterial is not driven, so an EXTERNAL key never holds material: it is never
    Enabled, so never replicated (Creating) nor updated (Updating)."""
    cell = guard.identity
    if cell is None:
        return False
    if cell.operation == "Decrypt" and cell.case == "material version":
        return True  # only an EXTERNAL key can lack the version of a ciphertext (S10)
    return cell.operation == "DeleteImportedKeyMaterial" and cell.key_state in (
        "Creating",
        "Updating",
    )


# Quotas (§3.1, §3.6: LimitExceeded; Q15: out of the model's scope): an endpoint may refuse
# these calls for a quota at any time, which is a documented answer, not a divergence.
QUOTA_ERRORS = {"CreateKey": "LimitExceededException", "EnableKey": "LimitExceededException"}
