"""The KMS operations as guarded transitions: one function per API call or environment step.

Each function returns its guards in the documented order (§3; the first failing guard is the error
a refused call returns) and its effects. Parameters: ``k`` the model's variables and options,
``s`` the key set, ``r`` the Region the call is made in (the key it names), and a second Region
where the operation has one. Every guard carries a :class:`GuardId` naming the rule it encodes;
mutants, conformance and tests select guards by it, never by their prose.

:func:`define_actions` registers them all, in the order of :data:`OPERATIONS`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mrkcheck.lang.expr import Expr, ExprLike, Var, and_, exists, ite, lift
from mrkcheck.lang.model import Guard, GuardId, ModelBuilder, Transition

from .rules import (
    ALREADY_EXISTS,
    INVALID_CIPHERTEXT,
    INVALID_STATE,
    LIMIT_EXCEEDED,
    UNSUPPORTED,
    KeyState,
    Origin,
    Role,
)

if TYPE_CHECKING:  # for annotations only: model/kms.py imports this module to build
    from .kms import Kms

Effects = list[tuple[Var, ExprLike]]

# The case of the one guard that stands for a bound of the model rather than a rule of KMS: the
# conformance runner never makes a call that only this guard refuses.
MODEL_BOUND = "max_versions"


def _when(operation: str, rule: str, case: str, condition: ExprLike, doc: str) -> Guard:
    """A guard that names no exception: an environment step's trigger, or a model precondition."""
    return Guard(condition, None, doc, GuardId(operation, rule, case=case))  # type: ignore[arg-type]


def _fresh_key(
    k: Kms, s: str, r: str, role: Role, state: Expr | int, versions: Expr | int, rot: Expr | bool
) -> Effects:
    return [
        (k.role[s, r], role),
        (k.key_state[s, r], state),
        (k.versions[s, r], versions),
        (k.rotation[s, r], rot),
    ]


def _gone(k: Kms, s: str, r: str) -> Effects:
    """A deleted key: its slot is free again (§5 rule 2: deleted with its metadata)."""
    return _fresh_key(k, s, r, Role.NONE, KeyState.Absent, 0, False)


# --- CreateKey ------------------------------------------------------------------------------------


def CreateKey(k: Kms, s: str, r: str, origin: str) -> Transition:
    """§3.1 CreateKey(MultiRegion=true): a new set with a PRIMARY key in the caller's Region,
    Enabled (AWS_KMS) or PendingImport without material (EXTERNAL); rotation off [KS, IMP, ROT].
    Key IDs are fresh: ``created[s]`` is a model precondition, not an API error."""
    external = origin == Origin.EXTERNAL.name
    fresh_id = _when(
        "CreateKey",
        "§3.1",
        "fresh key ID",
        ~k.created[s],
        "a fresh key ID (key IDs are never reused)",
    )
    return Transition(
        guards=[fresh_id],
        effects=[
            (k.created[s], True),
            (k.origin[s], Origin[origin]),
            *_fresh_key(
                k,
                s,
                r,
                Role.PRIMARY,
                KeyState.PendingImport if external else KeyState.Enabled,
                0 if external else 1,
                False,
            ),
        ],
    )


# --- ReplicateKey ---------------------------------------------------------------------------------


def ReplicateKey(k: Kms, s: str, r: str, replica: str) -> Transition:
    """§3.2 ReplicateKey (seed 003 "Creating multi-Region replica keys"; API:ReplicateKey):
    only an Enabled primary is replicated; the replica Region must hold no key of the set in
    any state, nor be the primary's own Region; same partition. The replica starts Creating
    with the primary's shared properties: all material versions (none if EXTERNAL)."""
    o, op = k.options, "ReplicateKey"
    return Transition(
        guards=[
            k.found(op, s, r),
            Guard(
                k.is_primary(s, r),
                o.role_error,
                "§3.2.2 only a primary can be replicated",
                GuardId(op, "§3.2.2"),
            ),
            *k.state_allows(op, s, r, "primary"),
            Guard(
                lift(replica != r),
                o.replicate_to_own_region_error,
                "§3.2.4 not the primary's own Region (Q4)",
                GuardId(op, "§3.2.4", case="own Region"),
            ),
            Guard(
                ~k.exists(s, replica),
                ALREADY_EXISTS,
                "§3.2.4 no key of this set in the replica Region, in any state",
                GuardId(op, "§3.2.4"),
            ),
            Guard(
                lift(k.same_partition(r, replica)),
                UNSUPPORTED,
                "§3.2.5 the replica Region is in the primary's partition",
                GuardId(op, "§3.2.5"),
            ),
        ],
        effects=_fresh_key(
            k,
            s,
            replica,
            Role.REPLICA,
            KeyState.Creating,
            ite(k.is_external(s), 0, k.versions[s, r]),
            k.rotation[s, r],
        ),
    )


def CompleteCreate(k: Kms, s: str, r: str) -> Transition:
    """§3.2 / KS: a Creating replica becomes Enabled (or PendingImport, without material)
    "after a few seconds". Q6: it acts only if the key is still Creating."""
    creating = k.in_state(s, r, KeyState.Creating)
    return Transition(
        guards=[_when("CompleteCreate", "Q6", "Creating", creating, "the key is still Creating")],
        effects=[
            (
                k.key_state[s, r],
                ite(k.versions[s, r].eq(0), KeyState.PendingImport, KeyState.Enabled),
            )
        ],
    )


# --- UpdatePrimaryRegion --------------------------------------------------------------------------


def UpdatePrimaryRegion(k: Kms, s: str, r: str, primary: str) -> Transition:
    """§3.3 UpdatePrimaryRegion (seed 000 "Change the primary key..."; seeds 001-004):
    ``r`` holds the current primary, ``primary`` the replica to promote. Both must be Enabled
    when the operation starts; both become Updating; roles swap (Q8: at the call) and the new
    primary keeps the old primary's shared values; no ARN or property changes."""
    o, op = k.options, "UpdatePrimaryRegion"
    target_checks = (
        k.state_allows(op, s, primary, "target replica") if o.update_checks_both_keys else []
    )
    swap = (
        [(k.role[s, r], Role.REPLICA), (k.role[s, primary], Role.PRIMARY)]
        if o.swap_roles_at_call
        else [(k.update_target[s, primary], True)]  # type: ignore[index]
    )
    return Transition(
        guards=[
            k.found(op, s, r),
            Guard(
                k.is_primary(s, r),
                o.role_error,
                "§3.3.2 KeyId is the current primary",
                GuardId(op, "§3.3.2"),
            ),
            Guard(
                lift(primary != r),
                UNSUPPORTED,
                "§3.3.3 not the primary's own Region (Q2)",
                GuardId(op, "§3.3.3", case="own Region"),
            ),
            Guard(
                k.is_replica(s, primary),
                o.update_without_replica_error,
                "§3.3.3 the new primary Region holds a replica of the set (Q3)",
                GuardId(op, "§3.3.3"),
            ),
            *k.state_allows(op, s, r, "primary"),
            *target_checks,
        ],
        # Asking for the primary's own Region is refused by a guard that is false at build
        # time; the instance stays so that the model still predicts the call's error.
        effects=[]
        if primary == r
        else [
            *swap,
            (k.key_state[s, r], KeyState.Updating),
            (k.key_state[s, primary], KeyState.Updating),
            (k.rotation[s, primary], k.rotation[s, r]),
            (k.versions[s, primary], k.versions[s, r]),
        ],
    )


def CompleteUpdate(k: Kms, s: str) -> Transition:
    """§3.3 / UPD: "The Enabled key state is restored when the update is complete": both keys
    of the updating pair leave Updating together."""
    effects: Effects = [
        (
            k.key_state[s, r],
            ite(k.in_state(s, r, KeyState.Updating), KeyState.Enabled, k.key_state[s, r]),
        )
        for r in k.Region
    ]
    if not k.options.swap_roles_at_call:  # Q8 alternative: the swap happens now
        for r in k.Region:
            promoted = k.update_target[s, r]  # type: ignore[index]
            demoted = and_(k.is_primary(s, r), k.in_state(s, r, KeyState.Updating))
            effects.append(
                (
                    k.role[s, r],
                    ite(promoted, Role.PRIMARY, ite(demoted, Role.REPLICA, k.role[s, r])),
                )
            )
            effects.append((k.update_target[s, r], False))  # type: ignore[index]
    updating = _when("CompleteUpdate", "§3.3", "Updating", k.any_updating(s), "a key is Updating")
    return Transition(guards=[updating], effects=effects)


# --- deletion -------------------------------------------------------------------------------------


def ScheduleKeyDeletion(k: Kms, s: str, r: str) -> Transition:
    """§3.4, §5 (DEL "Deleting multi-Region keys"): a replica, or a primary without replicas,
    goes to PendingDeletion; a primary with replicas in any state goes to
    PendingReplicaDeletion and its clock does not start. Allowed while Creating (Q6)."""
    op = "ScheduleKeyDeletion"
    guards = [k.found(op, s, r), *k.state_allows(op, s, r)]
    if not k.options.schedule_deletion_while_creating:
        not_creating = ~k.in_state(s, r, KeyState.Creating)
        guards.append(Guard(not_creating, INVALID_STATE, "Q6", GuardId(op, "Q6")))
    waits_for_replicas = and_(k.is_primary(s, r), k.has_replicas(s))
    return Transition(
        guards=guards,
        effects=[
            (
                k.key_state[s, r],
                ite(waits_for_replicas, KeyState.PendingReplicaDeletion, KeyState.PendingDeletion),
            )
        ],
    )


def CancelKeyDeletion(k: Kms, s: str, r: str) -> Transition:
    """§3.5, §5 rule 7: cancelling either kind of key leaves it Disabled, not its earlier
    state; only a key pending (replica) deletion can be cancelled (fn4)."""
    op = "CancelKeyDeletion"
    return Transition(
        guards=[k.found(op, s, r), *k.state_allows(op, s, r)],
        effects=[(k.key_state[s, r], KeyState.Disabled)],
    )


def DeletionDue(k: Kms, s: str, r: str) -> Transition:
    """§5 rule 2: when the waiting period ends the key is deleted with its metadata; it
    disappears from ReplicaKeys and its Region is free again (§5 rule 9)."""
    pending = k.in_state(s, r, KeyState.PendingDeletion)
    due = _when(
        "DeletionDue", "§5 rule 2", "PendingDeletion", pending, "the key is pending deletion"
    )
    return Transition(guards=[due], effects=_gone(k, s, r))


def PrimaryDeletionStarts(k: Kms, s: str, r: str) -> Transition:
    """§5 rule 4: when the last replica is actually deleted, the primary moves from
    PendingReplicaDeletion to PendingDeletion and its stored window starts."""
    op, rule = "PrimaryDeletionStarts", "§5 rule 4"
    return Transition(
        guards=[
            _when(
                op,
                rule,
                "PendingReplicaDeletion",
                k.in_state(s, r, KeyState.PendingReplicaDeletion),
                "the key is pending replica deletion",
            ),
            _when(op, rule, "primary", k.is_primary(s, r), "the key is the primary"),
            _when(op, rule, "no replicas", ~k.has_replicas(s), "its last replica is deleted"),
        ],
        effects=[(k.key_state[s, r], KeyState.PendingDeletion)],
    )


# --- EnableKey / DisableKey -----------------------------------------------------------------------


def EnableKey(k: Kms, s: str, r: str) -> Transition:
    """§3.6 EnableKey: that key only (MRK: "no effect on related multi-Region keys");
    idempotent in Enabled and Disabled; refused in the other states per §4."""
    return _set_key_state(k, "EnableKey", s, r, KeyState.Enabled)


def DisableKey(k: Kms, s: str, r: str) -> Transition:
    """§3.6 DisableKey: that key only (MRK: "no effect on related multi-Region keys");
    idempotent in Enabled and Disabled; refused in the other states per §4."""
    return _set_key_state(k, "DisableKey", s, r, KeyState.Disabled)


def _set_key_state(k: Kms, operation: str, s: str, r: str, result: KeyState) -> Transition:
    return Transition(
        guards=[k.found(operation, s, r), *k.state_allows(operation, s, r)],
        effects=[(k.key_state[s, r], result)],
    )


# --- rotation -------------------------------------------------------------------------------------


def EnableKeyRotation(k: Kms, s: str, r: str) -> Transition:
    """§3.7 EnableKeyRotation (MAN "Rotating multi-Region keys"): sets the flag on the primary;
    replicas get it at the next Sync. Allowed while Updating [KS]."""
    return _set_rotation(k, "EnableKeyRotation", s, r, True)


def DisableKeyRotation(k: Kms, s: str, r: str) -> Transition:
    """§3.7 DisableKeyRotation (MAN "Rotating multi-Region keys"): sets the flag on the primary;
    replicas get it at the next Sync. Allowed while Updating [KS]."""
    return _set_rotation(k, "DisableKeyRotation", s, r, False)


def _set_rotation(k: Kms, operation: str, s: str, r: str, flag: bool) -> Transition:
    return Transition(
        guards=[
            k.found(operation, s, r),
            Guard(
                k.is_primary(s, r),
                k.options.role_error,
                "§3.7 only on the primary (Q2)",
                GuardId(operation, "§3.7", case="primary"),
            ),
            Guard(
                ~k.is_external(s),
                UNSUPPORTED,
                "§3.7 fn6/fn7: AWS_KMS origin only",
                GuardId(operation, "§3.7", case="AWS_KMS origin"),
            ),
            *k.state_allows(operation, s, r),
        ],
        effects=[(k.rotation[s, r], flag)],
    )


def RotateKeyOnDemand(k: Kms, s: str, r: str) -> Transition:
    """§3.8 RotateKeyOnDemand (MAN "Rotating multi-Region keys"): only on the primary; a new
    material version is created at the primary and reaches replicas by Sync. The model's
    bound on versions stands for the 25-rotation quota (LimitExceeded)."""
    o, op = k.options, "RotateKeyOnDemand"
    origin_guard = (
        []
        if o.external_on_demand_rotation
        else [
            Guard(
                ~k.is_external(s),
                UNSUPPORTED,
                "§3.8 Q9: not for imported material",
                GuardId(op, "§3.8", case="AWS_KMS origin"),
            )
        ]
    )
    return Transition(
        guards=[
            k.found(op, s, r),
            Guard(
                k.is_primary(s, r),
                o.role_error,
                "§3.8 only the primary rotates (Q2)",
                GuardId(op, "§3.8", case="primary"),
            ),
            *origin_guard,
            *k.state_allows(op, s, r, row=o.rotate_on_demand_row),
            Guard(
                k.versions[s, r].lt(o.max_versions),
                LIMIT_EXCEEDED,
                "§3.8 rotation quota (the model's max_versions)",
                GuardId(op, "§3.8", case=MODEL_BOUND),
            ),
        ],
        effects=[(k.versions[s, r], k.versions[s, r] + 1)],
    )


def AutomaticRotation(k: Kms, s: str, r: str) -> Transition:
    """§3.7-3.8, ROT: with automatic rotation on, KMS rotates the primary's material on
    schedule; keys are not rotated while disabled or pending deletion."""
    op, rule = "AutomaticRotation", "§3.8"
    return Transition(
        guards=[
            _when(op, rule, "primary", k.is_primary(s, r), "the key is the primary"),
            _when(op, rule, "rotation on", k.rotation[s, r], "automatic rotation is on"),
            _when(op, rule, "AWS_KMS origin", ~k.is_external(s), "KMS generated the material"),
            _when(
                op,
                rule,
                "Enabled or Updating",
                k.in_state(s, r, KeyState.Enabled, KeyState.Updating),
                "the key is Enabled or Updating (ROT: not while disabled or pending deletion)",
            ),
            _when(
                op,
                rule,
                MODEL_BOUND,
                k.versions[s, r].lt(k.options.max_versions),
                "below the model's max_versions",
            ),
        ],
        effects=[(k.versions[s, r], k.versions[s, r] + 1)],
    )


# --- Sync -----------------------------------------------------------------------------------------


def Sync(k: Kms, s: str, primary: str, r: str) -> Transition | None:
    """§2 Sync (MRK, CT "SynchronizeMultiRegionKey"): KMS periodically copies the shared
    properties (rotation flag; material versions for AWS_KMS) from the primary to one
    replica (Q14: per replica, any interleaving). Imported material is never synced."""
    if primary == r:
        return None
    rotation_differs = k.rotation[s, r].ne(k.rotation[s, primary])
    versions_differ = and_(~k.is_external(s), k.versions[s, r].ne(k.versions[s, primary]))
    return Transition(
        guards=[
            _when("Sync", "§2", "source", k.is_primary(s, primary), "the source is the primary"),
            _when("Sync", "§2", "target", k.is_replica(s, r), "the target is a replica"),
            _when(
                "Sync",
                "§2",
                "differs",
                rotation_differs | versions_differ,
                "a shared property differs",
            ),
        ],
        effects=[
            (k.rotation[s, r], k.rotation[s, primary]),
            (k.versions[s, r], ite(k.is_external(s), k.versions[s, r], k.versions[s, primary])),
        ],
    )


def SyncWholeSet(k: Kms, s: str, primary: str) -> Transition:
    """§2 Sync, Q14 alternative: one step copies the shared properties to every replica.
    Registered under the name Sync when ``sync_per_replica`` is false."""
    differs = exists(
        k.Region,
        lambda r: and_(
            k.is_replica(s, r),
            k.rotation[s, r].ne(k.rotation[s, primary])
            | and_(~k.is_external(s), k.versions[s, r].ne(k.versions[s, primary])),
        ),
    )
    effects: Effects = []
    for r in k.Region:
        if r == primary:
            continue
        replica = k.is_replica(s, r)
        effects.append((k.rotation[s, r], ite(replica, k.rotation[s, primary], k.rotation[s, r])))
        copy = and_(replica, ~k.is_external(s))
        effects.append((k.versions[s, r], ite(copy, k.versions[s, primary], k.versions[s, r])))
    return Transition(
        guards=[
            _when("Sync", "Q14", "source", k.is_primary(s, primary), "the source is the primary"),
            _when("Sync", "Q14", "differs", differs, "a replica's shared property differs"),
        ],
        effects=effects,
    )


# --- imported key material ------------------------------------------------------------------------


def ImportKeyMaterial(k: Kms, s: str, r: str) -> Transition:
    """§3.9 ImportKeyMaterial (IMP "Importing key material into multi-Region keys"): EXTERNAL
    origin only (fn9); the same material is imported into each key separately; PendingImport
    becomes Enabled (Q7: a Disabled key stays Disabled); nothing propagates."""
    op = "ImportKeyMaterial"
    enabled_states = [KeyState.PendingImport]
    if k.options.import_enables_disabled_key:
        enabled_states.append(KeyState.Disabled)
    return Transition(
        guards=[k.found(op, s, r), _external_origin(k, op, s), *k.state_allows(op, s, r)],
        effects=[
            (k.versions[s, r], 1),
            (
                k.key_state[s, r],
                ite(k.in_state(s, r, *enabled_states), KeyState.Enabled, k.key_state[s, r]),
            ),
        ],
    )


def DeleteImportedKeyMaterial(k: Kms, s: str, r: str) -> Transition:
    """§3.9 DeleteImportedKeyMaterial: the key goes to PendingImport, except that a key
    pending deletion keeps its state (Q11 likewise for PendingReplicaDeletion); only that
    key is affected."""
    op = "DeleteImportedKeyMaterial"
    return Transition(
        guards=[k.found(op, s, r), _external_origin(k, op, s), *k.state_allows(op, s, r)],
        effects=_lose_material(k, s, r),
    )


def MaterialExpires(k: Kms, s: str, r: str) -> Transition:
    """§3.9, IK: imported material expires at ValidTo, with the per-key effect of
    DeleteImportedKeyMaterial; related keys are left alone [IMP]."""
    op, rule = "MaterialExpires", "§3.9"
    holding = k.in_state(
        s,
        r,
        KeyState.Enabled,
        KeyState.Disabled,
        KeyState.PendingDeletion,
        KeyState.PendingReplicaDeletion,
    )
    return Transition(
        guards=[
            _when(op, rule, "EXTERNAL origin", k.is_external(s), "the material is imported"),
            _when(op, rule, "has material", k.versions[s, r].eq(1), "the key holds material"),
            _when(op, rule, "key state", holding, "a state in which the material can expire"),
        ],
        effects=_lose_material(k, s, r),
    )


def _external_origin(k: Kms, operation: str, s: str) -> Guard:
    return Guard(
        k.is_external(s),
        UNSUPPORTED,
        "§3.9 fn9: the key has no imported material",
        GuardId(operation, "§3.9", footnote="fn9"),
    )


def _lose_material(k: Kms, s: str, r: str) -> Effects:
    keeps_state = [KeyState.PendingImport]
    if k.options.delete_material_keeps_pending_deletion:
        keeps_state += [KeyState.PendingDeletion, KeyState.PendingReplicaDeletion]
    return [
        (k.versions[s, r], 0),
        (
            k.key_state[s, r],
            ite(k.in_state(s, r, *keeps_state), k.key_state[s, r], KeyState.PendingImport),
        ),
    ]


# --- cryptographic operations ---------------------------------------------------------------------


def Encrypt(k: Kms, s: str, r: str) -> Transition:
    """§3.10 Encrypt: allowed in Enabled and Updating (UPD: crypto is never interrupted by
    an update); the ciphertext uses the newest version every related key holds (§3.8)."""
    version = k.encryption_version(s)
    return Transition(
        guards=[k.found("Encrypt", s, r), *k.state_allows("Encrypt", s, r)],
        effects=[(k.ciphertext[s], ite(version.gt(k.ciphertext[s]), version, k.ciphertext[s]))],
    )


def Decrypt(k: Kms, s: str, r: str) -> Transition:
    """§3.10 Decrypt, cross-Region: any related key decrypts ciphertext from any other, even
    ciphertext made before it existed (MRK, MAN); it needs the material version used. The
    call changes no state; its guards say when it succeeds."""
    op = "Decrypt"
    return Transition(
        guards=[
            _when(
                op,
                "§3.10",
                "ciphertext exists",
                k.ciphertext[s].gt(0),
                "there is a ciphertext of this set to decrypt",
            ),
            k.found(op, s, r),
            *k.state_allows(op, s, r),
            Guard(
                k.versions[s, r].ge(k.ciphertext[s]),
                INVALID_CIPHERTEXT,
                "the key holds the material version of the ciphertext",
                GuardId(op, "§3.10", case="material version"),
            ),
        ],
        effects=[],
    )


# --- registration ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Operation:
    """One action of the model: its function, the universe of each parameter after ``k``, and
    whether KMS takes the step on its own (an environment step) rather than a caller."""

    body: Callable[..., Transition | None]
    params: tuple[tuple[str, str], ...]
    environment: bool = False
    name: str = ""  # the action's name when it is not the function's (SyncWholeSet is Sync)


def _api(body: Callable[..., Transition | None], *params: tuple[str, str]) -> Operation:
    return Operation(body, params)


def _env(body: Callable[..., Transition | None], *params: tuple[str, str]) -> Operation:
    return Operation(body, params, environment=True)


KEY = (("s", "KeySet"), ("r", "Region"))

# Every action, in the order the model expands them (which fixes state numbering and traces).
OPERATIONS: tuple[Operation, ...] = (
    _api(CreateKey, *KEY, ("origin", "Origin")),
    _api(ReplicateKey, *KEY, ("replica", "Region")),
    _env(CompleteCreate, *KEY),
    _api(UpdatePrimaryRegion, *KEY, ("primary", "Region")),
    _env(CompleteUpdate, ("s", "KeySet")),
    _api(ScheduleKeyDeletion, *KEY),
    _api(CancelKeyDeletion, *KEY),
    _env(DeletionDue, *KEY),
    _env(PrimaryDeletionStarts, *KEY),
    _api(EnableKey, *KEY),
    _api(DisableKey, *KEY),
    _api(EnableKeyRotation, *KEY),
    _api(DisableKeyRotation, *KEY),
    _api(RotateKeyOnDemand, *KEY),
    _env(AutomaticRotation, *KEY),
    _env(Sync, ("s", "KeySet"), ("primary", "Region"), ("r", "Region")),
    _api(ImportKeyMaterial, *KEY),
    _api(DeleteImportedKeyMaterial, *KEY),
    _env(MaterialExpires, *KEY),
    _api(Encrypt, *KEY),
    _api(Decrypt, *KEY),
)

# Q14 = false: one Sync step per key set instead of one per replica.
SYNC_WHOLE_SET = Operation(
    SyncWholeSet, (("s", "KeySet"), ("primary", "Region")), environment=True, name="Sync"
)


def define_actions(m: ModelBuilder, k: Kms) -> None:
    """Register every API action and environment step of the model on ``m``."""
    m.universe("Origin", [x.name for x in k.options.origin_list])
    for operation in OPERATIONS:
        if operation.body is Sync and not k.options.sync_per_replica:
            operation = SYNC_WHOLE_SET
        m.action(environment=operation.environment, **dict(operation.params))(_bound(operation, k))


def _bound(operation: Operation, k: Kms) -> Callable[..., Transition | None]:
    """The operation's function with ``k`` supplied: the builder sees the name, the docstring
    and the remaining parameters of the function itself."""
    body = functools.partial(operation.body, k)
    functools.update_wrapper(body, operation.body)
    del body.__wrapped__  # type: ignore[attr-defined]  # the signature is the partial's
    if operation.name:
        body.__name__ = operation.name  # type: ignore[attr-defined]
    return body
