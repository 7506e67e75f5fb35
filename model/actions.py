"""The KMS operations as guarded transitions, one function per API call or environment step.

Each function returns its guards in the documented order (§3; the first failing guard is the error
a refused call returns) and its effects. Parameters: ``s`` the key set, ``r`` the Region the call is
made in (the key it names), and a second Region where the operation has one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mrkcheck.lang.expr import Expr, and_, exists, ite
from mrkcheck.lang.model import Guard, ModelBuilder, Transition

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


def define_actions(m: ModelBuilder, k: Kms) -> None:
    """Register every API action and environment step of the model on ``m``."""
    o = k.options
    KeySet, Region = k.KeySet, k.Region
    origins = m.universe("Origin", [x.name for x in o.origins])

    def fresh_key(
        s: str, r: str, role: Role, state: Expr | int, versions: Expr | int, rot: Expr | bool
    ):
        return [
            (k.role[s, r], role),
            (k.key_state[s, r], state),
            (k.versions[s, r], versions),
            (k.rotation[s, r], rot),
        ]

    def gone(s: str, r: str):
        """A deleted key: its slot is free again (§5 rule 2: deleted with its metadata)."""
        return fresh_key(s, r, Role.NONE, KeyState.Absent, 0, False)

    # --- CreateKey ------------------------------------------------------------------------------

    @m.action(s=KeySet, r=Region, origin=origins)
    def CreateKey(s: str, r: str, origin: str) -> Transition:
        """§3.1 CreateKey(MultiRegion=true): a new set with a PRIMARY key in the caller's Region,
        Enabled (AWS_KMS) or PendingImport without material (EXTERNAL); rotation off [KS, IMP, ROT].
        Key IDs are fresh: ``created[s]`` is a model precondition, not an API error."""
        external = origin == Origin.EXTERNAL.name
        return Transition(
            guards=[Guard(~k.created[s], None, "a fresh key ID (key IDs are never reused)")],
            effects=[
                (k.created[s], True),
                (k.origin[s], Origin[origin]),
                *fresh_key(
                    s,
                    r,
                    Role.PRIMARY,
                    KeyState.PendingImport if external else KeyState.Enabled,
                    0 if external else 1,
                    False,
                ),
            ],
        )

    # --- ReplicateKey ---------------------------------------------------------------------------

    @m.action(s=KeySet, r=Region, replica=Region)
    def ReplicateKey(s: str, r: str, replica: str) -> Transition:
        """§3.2 ReplicateKey (seed 003 "Creating multi-Region replica keys"; API:ReplicateKey):
        only an Enabled primary is replicated; the replica Region must hold no key of the set in
        any state, nor be the primary's own Region; same partition. The replica starts Creating
        with the primary's shared properties: all material versions (none if EXTERNAL)."""
        return Transition(
            guards=[
                k.found(s, r),
                Guard(k.is_primary(s, r), o.role_error, "§3.2.2 only a primary can be replicated"),
                *k.state_allows("ReplicateKey", s, r, "primary"),
                Guard(
                    replica != r,
                    o.replicate_to_own_region_error,
                    "§3.2.4 not the primary's own Region (Q4)",
                ),
                Guard(
                    ~k.exists(s, replica),
                    ALREADY_EXISTS,
                    "§3.2.4 no key of this set in the replica Region, in any state",
                ),
                Guard(
                    k.same_partition(r, replica),
                    UNSUPPORTED,
                    "§3.2.5 the replica Region is in the primary's partition",
                ),
            ],
            effects=fresh_key(
                s,
                replica,
                Role.REPLICA,
                KeyState.Creating,
                ite(k.is_external(s), 0, k.versions[s, r]),
                k.rotation[s, r],
            ),
        )

    @m.action(environment=True, s=KeySet, r=Region)
    def CompleteCreate(s: str, r: str) -> Transition:
        """§3.2 / KS: a Creating replica becomes Enabled (or PendingImport, without material)
        "after a few seconds". Q6: it acts only if the key is still Creating."""
        return Transition(
            guards=[k.in_state(s, r, KeyState.Creating)],
            effects=[
                (
                    k.key_state[s, r],
                    ite(k.versions[s, r].eq(0), KeyState.PendingImport, KeyState.Enabled),
                )
            ],
        )

    # --- UpdatePrimaryRegion --------------------------------------------------------------------

    @m.action(s=KeySet, r=Region, primary=Region)
    def UpdatePrimaryRegion(s: str, r: str, primary: str) -> Transition:
        """§3.3 UpdatePrimaryRegion (seed 000 "Change the primary key..."; seeds 001-004):
        ``r`` holds the current primary, ``primary`` the replica to promote. Both must be Enabled
        when the operation starts; both become Updating; roles swap (Q8: at the call) and the new
        primary keeps the old primary's shared values; no ARN or property changes."""
        target_checks = (
            k.state_allows("UpdatePrimaryRegion", s, primary, "target replica")
            if o.update_checks_both_keys
            else []
        )
        swap = (
            [(k.role[s, r], Role.REPLICA), (k.role[s, primary], Role.PRIMARY)]
            if o.swap_roles_at_call
            else [(k.update_target[s, primary], True)]  # type: ignore[index]
        )
        return Transition(
            guards=[
                k.found(s, r),
                Guard(k.is_primary(s, r), o.role_error, "§3.3.2 KeyId is the current primary"),
                Guard(primary != r, UNSUPPORTED, "§3.3.3 not the primary's own Region (Q3)"),
                Guard(
                    k.is_replica(s, primary),
                    o.update_without_replica_error,
                    "§3.3.3 the new primary Region holds a replica of the set (Q3)",
                ),
                *k.state_allows("UpdatePrimaryRegion", s, r, "primary"),
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

    @m.action(environment=True, s=KeySet)
    def CompleteUpdate(s: str) -> Transition:
        """§3.3 / UPD: "The Enabled key state is restored when the update is complete": both keys
        of the updating pair leave Updating together."""
        effects = [
            (
                k.key_state[s, r],
                ite(k.in_state(s, r, KeyState.Updating), KeyState.Enabled, k.key_state[s, r]),
            )
            for r in Region
        ]
        if not o.swap_roles_at_call:  # Q8 alternative: the swap happens now
            for r in Region:
                promoted = k.update_target[s, r]  # type: ignore[index]
                demoted = and_(k.is_primary(s, r), k.in_state(s, r, KeyState.Updating))
                effects.append(
                    (
                        k.role[s, r],
                        ite(promoted, Role.PRIMARY, ite(demoted, Role.REPLICA, k.role[s, r])),
                    )
                )
                effects.append((k.update_target[s, r], False))  # type: ignore[index]
        return Transition(guards=[k.any_updating(s)], effects=effects)

    # --- deletion -------------------------------------------------------------------------------

    @m.action(s=KeySet, r=Region)
    def ScheduleKeyDeletion(s: str, r: str) -> Transition:
        """§3.4, §5 (DEL "Deleting multi-Region keys"): a replica, or a primary without replicas,
        goes to PendingDeletion; a primary with replicas in any state goes to
        PendingReplicaDeletion and its clock does not start. Allowed while Creating (Q6)."""
        guards = [k.found(s, r), *k.state_allows("ScheduleKeyDeletion", s, r)]
        if not o.schedule_deletion_while_creating:
            guards.append(Guard(~k.in_state(s, r, KeyState.Creating), INVALID_STATE, "Q6"))
        waits_for_replicas = and_(k.is_primary(s, r), k.has_replicas(s))
        return Transition(
            guards=guards,
            effects=[
                (
                    k.key_state[s, r],
                    ite(
                        waits_for_replicas,
                        KeyState.PendingReplicaDeletion,
                        KeyState.PendingDeletion,
                    ),
                )
            ],
        )

    @m.action(s=KeySet, r=Region)
    def CancelKeyDeletion(s: str, r: str) -> Transition:
        """§3.5, §5 rule 7: cancelling either kind of key leaves it Disabled, not its earlier
        state; only a key pending (replica) deletion can be cancelled (fn4)."""
        return Transition(
            guards=[k.found(s, r), *k.state_allows("CancelKeyDeletion", s, r)],
            effects=[(k.key_state[s, r], KeyState.Disabled)],
        )

    @m.action(environment=True, s=KeySet, r=Region)
    def DeletionDue(s: str, r: str) -> Transition:
        """§5 rule 2: when the waiting period ends the key is deleted with its metadata; it
        disappears from ReplicaKeys and its Region is free again (§5 rule 9)."""
        return Transition(guards=[k.in_state(s, r, KeyState.PendingDeletion)], effects=gone(s, r))

    @m.action(environment=True, s=KeySet, r=Region)
    def PrimaryDeletionStarts(s: str, r: str) -> Transition:
        """§5 rule 4: when the last replica is actually deleted, the primary moves from
        PendingReplicaDeletion to PendingDeletion and its stored window starts."""
        return Transition(
            guards=[
                k.in_state(s, r, KeyState.PendingReplicaDeletion),
                k.is_primary(s, r),
                ~k.has_replicas(s),
            ],
            effects=[(k.key_state[s, r], KeyState.PendingDeletion)],
        )

    # --- EnableKey / DisableKey -----------------------------------------------------------------

    for operation, result in (("EnableKey", KeyState.Enabled), ("DisableKey", KeyState.Disabled)):
        _enable_or_disable(m, k, operation, result)

    # --- rotation -------------------------------------------------------------------------------

    for operation, flag in (("EnableKeyRotation", True), ("DisableKeyRotation", False)):
        _set_rotation(m, k, operation, flag)

    @m.action(s=KeySet, r=Region)
    def RotateKeyOnDemand(s: str, r: str) -> Transition:
        """§3.8 RotateKeyOnDemand (MAN "Rotating multi-Region keys"): only on the primary; a new
        material version is created at the primary and reaches replicas by Sync. The model's
        bound on versions stands for the 25-rotation quota (LimitExceeded)."""
        origin_guard = (
            []
            if o.external_on_demand_rotation
            else [Guard(~k.is_external(s), UNSUPPORTED, "§3.8 Q9: not for imported material")]
        )
        return Transition(
            guards=[
                k.found(s, r),
                Guard(k.is_primary(s, r), o.role_error, "§3.8 only the primary rotates (Q2)"),
                *origin_guard,
                *k.state_allows(o.rotate_on_demand_row, s, r),
                Guard(
                    k.versions[s, r].lt(o.max_versions),
                    LIMIT_EXCEEDED,
                    "§3.8 rotation quota (the model's max_versions)",
                ),
            ],
            effects=[(k.versions[s, r], k.versions[s, r] + 1)],
        )

    @m.action(environment=True, s=KeySet, r=Region)
    def AutomaticRotation(s: str, r: str) -> Transition:
        """§3.7-3.8, ROT: with automatic rotation on, KMS rotates the primary's material on
        schedule; keys are not rotated while disabled or pending deletion."""
        return Transition(
            guards=[
                k.is_primary(s, r),
                k.rotation[s, r],
                ~k.is_external(s),
                k.in_state(s, r, KeyState.Enabled, KeyState.Updating),
                k.versions[s, r].lt(o.max_versions),
            ],
            effects=[(k.versions[s, r], k.versions[s, r] + 1)],
        )

    # --- Sync -----------------------------------------------------------------------------------

    if o.sync_per_replica:

        @m.action(environment=True, s=KeySet, primary=Region, r=Region)
        def Sync(s: str, primary: str, r: str) -> Transition:
            """§2 Sync (MRK, CT "SynchronizeMultiRegionKey"): KMS periodically copies the shared
            properties (rotation flag; material versions for AWS_KMS) from the primary to one
            replica (Q14: per replica, any interleaving). Imported material is never synced."""
            if primary == r:
                return None  # type: ignore[return-value]
            rotation_differs = k.rotation[s, r].ne(k.rotation[s, primary])
            versions_differ = and_(~k.is_external(s), k.versions[s, r].ne(k.versions[s, primary]))
            return Transition(
                guards=[
                    k.is_primary(s, primary),
                    k.is_replica(s, r),
                    rotation_differs | versions_differ,
                ],
                effects=[
                    (k.rotation[s, r], k.rotation[s, primary]),
                    (
                        k.versions[s, r],
                        ite(k.is_external(s), k.versions[s, r], k.versions[s, primary]),
                    ),
                ],
            )

    else:

        @m.action(environment=True, s=KeySet, primary=Region)
        def Sync(s: str, primary: str) -> Transition:  # noqa: F811 - one of two granularities
            """§2 Sync, Q14 alternative: one step copies the shared properties to every replica."""
            differs = exists(
                Region,
                lambda r: and_(
                    k.is_replica(s, r),
                    k.rotation[s, r].ne(k.rotation[s, primary])
                    | and_(~k.is_external(s), k.versions[s, r].ne(k.versions[s, primary])),
                ),
            )
            effects = []
            for r in Region:
                if r == primary:
                    continue
                replica = k.is_replica(s, r)
                effects.append(
                    (k.rotation[s, r], ite(replica, k.rotation[s, primary], k.rotation[s, r]))
                )
                copy = and_(replica, ~k.is_external(s))
                effects.append(
                    (k.versions[s, r], ite(copy, k.versions[s, primary], k.versions[s, r]))
                )
            return Transition(guards=[k.is_primary(s, primary), differs], effects=effects)

    # --- imported key material ------------------------------------------------------------------

    @m.action(s=KeySet, r=Region)
    def ImportKeyMaterial(s: str, r: str) -> Transition:
        """§3.9 ImportKeyMaterial (IMP "Importing key material into multi-Region keys"): EXTERNAL
        origin only (fn9); the same material is imported into each key separately; PendingImport
        becomes Enabled (Q7: a Disabled key stays Disabled); nothing propagates."""
        enabled_states = [KeyState.PendingImport]
        if o.import_enables_disabled_key:
            enabled_states.append(KeyState.Disabled)
        return Transition(
            guards=[
                k.found(s, r),
                Guard(k.is_external(s), UNSUPPORTED, "§3.9 fn9: the key has no imported material"),
                *k.state_allows("ImportKeyMaterial", s, r),
            ],
            effects=[
                (k.versions[s, r], 1),
                (
                    k.key_state[s, r],
                    ite(k.in_state(s, r, *enabled_states), KeyState.Enabled, k.key_state[s, r]),
                ),
            ],
        )

    @m.action(s=KeySet, r=Region)
    def DeleteImportedKeyMaterial(s: str, r: str) -> Transition:
        """§3.9 DeleteImportedKeyMaterial: the key goes to PendingImport, except that a key
        pending deletion keeps its state (Q11 likewise for PendingReplicaDeletion); only that
        key is affected."""
        return Transition(
            guards=[
                k.found(s, r),
                Guard(k.is_external(s), UNSUPPORTED, "§3.9 fn9: the key has no imported material"),
                *k.state_allows("DeleteImportedKeyMaterial", s, r),
            ],
            effects=_lose_material(k, s, r),
        )

    @m.action(environment=True, s=KeySet, r=Region)
    def MaterialExpires(s: str, r: str) -> Transition:
        """§3.9, IK: imported material expires at ValidTo, with the per-key effect of
        DeleteImportedKeyMaterial; related keys are left alone [IMP]."""
        return Transition(
            guards=[
                k.is_external(s),
                k.versions[s, r].eq(1),
                k.in_state(
                    s,
                    r,
                    KeyState.Enabled,
                    KeyState.Disabled,
                    KeyState.PendingDeletion,
                    KeyState.PendingReplicaDeletion,
                ),
            ],
            effects=_lose_material(k, s, r),
        )

    # --- cryptographic operations ---------------------------------------------------------------

    @m.action(s=KeySet, r=Region)
    def Encrypt(s: str, r: str) -> Transition:
        """§3.10 Encrypt: allowed in Enabled and Updating (UPD: crypto is never interrupted by
        an update); the ciphertext uses the newest version every related key holds (§3.8)."""
        version = k.encryption_version(s)
        return Transition(
            guards=[k.found(s, r), *k.state_allows("Encrypt", s, r)],
            effects=[(k.ciphertext[s], ite(version.gt(k.ciphertext[s]), version, k.ciphertext[s]))],
        )

    @m.action(s=KeySet, r=Region)
    def Decrypt(s: str, r: str) -> Transition:
        """§3.10 Decrypt, cross-Region: any related key decrypts ciphertext from any other, even
        ciphertext made before it existed (MRK, MAN); it needs the material version used. The
        call changes no state; its guards say when it succeeds."""
        return Transition(
            guards=[
                Guard(k.ciphertext[s].gt(0), None, "there is a ciphertext of this set to decrypt"),
                k.found(s, r),
                *k.state_allows("Decrypt", s, r),
                Guard(
                    k.versions[s, r].ge(k.ciphertext[s]),
                    INVALID_CIPHERTEXT,
                    "the key holds the material version of the ciphertext",
                ),
            ],
            effects=[],
        )


def _enable_or_disable(m: ModelBuilder, k: Kms, operation: str, result: KeyState) -> None:
    def body(s: str, r: str) -> Transition:
        return Transition(
            guards=[k.found(s, r), *k.state_allows(operation, s, r)],
            effects=[(k.key_state[s, r], result)],
        )

    body.__name__ = operation
    body.__doc__ = (
        f'§3.6 {operation}: that key only (MRK: "no effect on related multi-Region keys"); '
        "idempotent in Enabled and Disabled; refused in the other states per §4."
    )
    m.action(s=k.KeySet, r=k.Region)(body)


def _set_rotation(m: ModelBuilder, k: Kms, operation: str, flag: bool) -> None:
    o = k.options

    def body(s: str, r: str) -> Transition:
        return Transition(
            guards=[
                k.found(s, r),
                Guard(k.is_primary(s, r), o.role_error, "§3.7 only on the primary (Q2)"),
                Guard(~k.is_external(s), UNSUPPORTED, "§3.7 fn6/fn7: AWS_KMS origin only"),
                *k.state_allows(operation, s, r),
            ],
            effects=[(k.rotation[s, r], flag)],
        )

    body.__name__ = operation
    body.__doc__ = (
        f'§3.7 {operation} (MAN "Rotating multi-Region keys"): sets the flag on the primary; '
        "replicas get it at the next Sync. Allowed while Updating [KS]."
    )
    m.action(s=k.KeySet, r=k.Region)(body)


def _lose_material(k: Kms, s: str, r: str) -> list:
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
