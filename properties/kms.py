"""Invariants and action properties of the KMS model: docs/semantics.md §7, as named data.

The three properties the users asked for by name come first. Each property names the rule it comes
from. Action properties read the pre-state (plain variables) and the post-state (``.next``) of one
transition and say nothing (None) about actions they do not concern.

Not expressible in this model, and why (see README "Properties"):
- S2 (key ID, ARN, account shared): ARNs are a function of (key set, Region) in this encoding;
  there is no state that could disagree.
- S15 window bounds: waiting periods are not part of the state (DeletionDue is an environment
  step); its second half ("a primary's clock starts no earlier than its last replica's deletion")
  is ``no_primary_deletion_with_replicas``.
- S17 (every error is in the operation's botocore list) is a property of the model text, not of a
  state; it is checked by :func:`errors_outside_api_lists` and its test.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mrkcheck.lang.expr import FALSE, Expr, and_, count, exists, forall, implies, or_
from mrkcheck.lang.model import (
    ActionInstance,
    ActionProperty,
    Invariant,
    LeadsTo,
    Model,
    ModelBuilder,
    Property,
    Verdict,
)

from ..model.observe import may_show
from ..model.rules import API_ERRORS, KeyState, Origin, Role

if TYPE_CHECKING:  # for annotations only: model/kms.py builds the model with these properties
    from ..model.kms import Kms

CRYPTO_STATES = (KeyState.Enabled, KeyState.Updating)
PENDING_DELETION = (KeyState.PendingDeletion, KeyState.PendingReplicaDeletion)


def define_properties(m: ModelBuilder, k: Kms) -> None:
    for prop in kms_properties(k) + liveness_properties(k):
        m.add_property(prop)


def kms_properties(k: Kms) -> list[Property]:
    """Every property of the KMS model, the users' three first."""
    return [
        one_primary_per_key_set(k),
        one_key_per_region(k),
        no_primary_deletion_with_replicas(k),
        well_formed_keys(k),
        updating_pair(k),
        roles_of_transient_states(k),
        lonely_pending_replica_deletion_moves_on(k),
        pending_deletion_primary_gains_no_replica(k),
        replicas_never_ahead_of_primary(k),
        sync_copies_shared_properties(k),
        ciphertext_decryptable_everywhere(k),
        crypto_available_when_enabled_or_updating(k),
        replicate_and_update_need_enabled_keys(k),
        other_keys_unchanged(k),
        cancel_leaves_key_disabled(k),
        new_replica_gets_shared_properties(k),
        sync_source_is_primary(k),
        material_versions_never_decrease(k),
        pending_deletion_left_only_by_cancel_or_deletion(k),
        no_rotation_while_disabled_or_pending_deletion(k),
        key_state_matrix_respected(k),
        describe_key_shows_one_primary(k),
    ]


def _sets_and_regions(k: Kms):
    return [(s, r) for s in k.KeySet for r in k.Region]


def for_every_key(k: Kms, holds) -> Expr:
    """``holds(s, r)`` for every key slot (key set × Region) of the instance."""
    return and_(*(holds(s, r) for s, r in _sets_and_regions(k)))


# --- the users' three ---------------------------------------------------------------------------


def one_primary_per_key_set(k: Kms) -> Property:
    def holds(s: str) -> Expr:
        primaries = count(k.Region, lambda r: k.is_primary(s, r))
        some_key = exists(k.Region, lambda r: k.exists(s, r))
        return and_(primaries.le(1), implies(and_(some_key, ~k.any_updating(s)), primaries.eq(1)))

    return Invariant(
        "one_primary_per_key_set",
        forall(k.KeySet, holds),
        rule="S3 [MRK: exactly one primary key at any time; UPD]",
        doc="At most one primary per key set; exactly one whenever no key of the set is Updating.",
    )


def one_key_per_region(k: Kms) -> Property:
    """S1. Each (set, Region) slot holds at most one key by encoding, so the property that can fail
    is the transition one: a key is created only in a free slot (ReplicateKey, CreateKey)."""

    def for_action(inst: ActionInstance) -> Expr | None:
        if inst.action == "ReplicateKey":
            s, target = inst.param("s"), inst.param("replica")
        elif inst.action == "CreateKey":
            s, target = inst.param("s"), inst.param("r")
        else:
            return None
        return k.key_state[s, target].eq(KeyState.Absent)

    return ActionProperty(
        "one_key_per_region",
        for_action,
        rule="S1 [REP: one related multi-Region key per Region; API:ReplicateKey AlreadyExists]",
        doc="A key is only ever created where no related key is, in any state (Creating and "
        "PendingDeletion included).",
    )


def no_primary_deletion_with_replicas(k: Kms) -> Property:
    def holds(s: str) -> Expr:
        replicas = k.has_replicas(s)
        primary_pending = exists(
            k.Region, lambda r: and_(k.is_primary(s, r), k.in_state(s, r, KeyState.PendingDeletion))
        )
        primary_present = exists(k.Region, lambda r: k.is_primary(s, r))
        return and_(implies(primary_pending, ~replicas), implies(replicas, primary_present))

    return Invariant(
        "no_primary_deletion_with_replicas",
        forall(k.KeySet, holds),
        rule="S6 [DEL: KMS never deletes a primary that has replicas; API:ScheduleKeyDeletion]",
        doc="A primary is never in PendingDeletion, nor deleted (replicas left without a "
        "primary), while any replica of its set exists.",
    )


# --- the rest of §7 -----------------------------------------------------------------------------


def well_formed_keys(k: Kms) -> Property:
    def holds(s: str, r: str) -> Expr:
        absent = k.key_state[s, r].eq(KeyState.Absent)
        return and_(
            absent.implies(
                and_(k.role[s, r].eq(Role.NONE), k.versions[s, r].eq(0), ~k.rotation[s, r])
            ),
            (~absent).implies(and_(k.role[s, r].ne(Role.NONE), k.created[s])),
            k.is_external(s).implies(and_(k.versions[s, r].le(1), ~k.rotation[s, r])),
        )

    return Invariant(
        "well_formed_keys",
        for_every_key(k, holds),
        rule="§1 entities: a key has a role iff it exists; deleted keys leave no metadata [DK]",
        doc="Type correctness of the encoding (as TLA+'s TypeOK).",
    )


def updating_pair(k: Kms) -> Property:
    def holds(s: str) -> Expr:
        updating = count(k.Region, lambda r: k.in_state(s, r, KeyState.Updating))
        updating_primary = count(
            k.Region, lambda r: and_(k.in_state(s, r, KeyState.Updating), k.is_primary(s, r))
        )
        return and_(updating.isin(0, 2), updating.eq(2).implies(updating_primary.eq(1)))

    return Invariant(
        "updating_pair",
        forall(k.KeySet, holds),
        rule="S4 [UPD, KS: the old and new primary keys have a transient state of Updating]",
        doc="0 or 2 keys of a set are Updating, and then they are the old and the new primary.",
    )


def roles_of_transient_states(k: Kms) -> Property:
    def holds(s: str, r: str) -> Expr:
        return and_(
            k.in_state(s, r, KeyState.Creating).implies(k.is_replica(s, r)),
            k.in_state(s, r, KeyState.PendingReplicaDeletion).implies(k.is_primary(s, r)),
        )

    return Invariant(
        "roles_of_transient_states",
        for_every_key(k, holds),
        rule="S5 [KS, DEL]",
        doc="Creating => REPLICA; PendingReplicaDeletion => PRIMARY.",
    )


def lonely_pending_replica_deletion_moves_on(k: Kms) -> Property:
    """S7 as a safety property: wherever a primary waits in PendingReplicaDeletion with no replica
    left, the environment step that starts its deletion is enabled (so it cannot wait forever)."""

    def holds(s: str, r: str) -> Expr:
        lonely = and_(k.in_state(s, r, KeyState.PendingReplicaDeletion), ~k.has_replicas(s))
        return lonely.implies(k.enabled("PrimaryDeletionStarts", s=s, r=r))

    return Invariant(
        "lonely_pending_replica_deletion_moves_on",
        for_every_key(k, holds),
        rule="S7 [DEL: when the last replica is deleted the primary goes to PendingDeletion]",
    )


def pending_deletion_primary_gains_no_replica(k: Kms) -> Property:
    def gains_no_replica(s: str) -> Expr:
        replicas = count(k.Region, lambda r: k.is_replica(s, r))
        replicas_after = count(k.Region, lambda r: k.role[s, r].next.eq(Role.REPLICA))
        pending = exists(
            k.Region, lambda r: and_(k.is_primary(s, r), k.in_state(s, r, *PENDING_DELETION))
        )
        return pending.implies(replicas_after.le(replicas))

    def for_action(inst: ActionInstance) -> Expr | None:
        return and_(*(gains_no_replica(s) for s in k.KeySet))

    return ActionProperty(
        "pending_deletion_primary_gains_no_replica",
        for_action,
        rule="S8 [DEL: a primary pending deletion cannot be replicated; KS]",
    )


def replicas_never_ahead_of_primary(k: Kms) -> Property:
    def holds(s: str, p: str, r: str) -> Expr:
        both = and_(k.is_primary(s, p), k.is_replica(s, r), ~k.is_external(s))
        return both.implies(k.versions[s, r].le(k.versions[s, p]))

    return Invariant(
        "replicas_never_ahead_of_primary",
        and_(*(holds(s, p, r) for s in k.KeySet for p in k.Region for r in k.Region if p != r)),
        rule="S9 [MRK: the primary is the source of shared properties; MAN]",
        doc="Material versions only flow from the primary: no replica holds a version it lacks.",
    )


def sync_copies_shared_properties(k: Kms) -> Property:
    def for_action(inst: ActionInstance) -> Expr | None:
        if inst.action != "Sync":
            return None
        s, p = inst.param("s"), inst.param("primary")
        targets = [inst.param("r")] if "r" in dict(inst.params) else [r for r in k.Region if r != p]
        rules = []
        for r in targets:
            copied = and_(
                k.rotation[s, r].next.eq(k.rotation[s, p].next),
                or_(k.is_external(s), k.versions[s, r].next.eq(k.versions[s, p].next)),
            )
            rules.append(k.is_replica(s, r).implies(copied))
        return and_(*rules)

    return ActionProperty(
        "sync_copies_shared_properties",
        for_action,
        rule="S9 [MRK: KMS synchronizes shared properties from the primary; MAN; CT]",
        doc="After a Sync, the replica's rotation flag and material versions equal the primary's.",
    )


def ciphertext_decryptable_everywhere(k: Kms) -> Property:
    def holds(s: str, r: str) -> Expr:
        usable = and_(k.in_state(s, r, *CRYPTO_STATES), k.origin[s].eq(Origin.AWS_KMS))
        return usable.implies(k.versions[s, r].ge(k.ciphertext[s]))

    return Invariant(
        "ciphertext_decryptable_everywhere",
        for_every_key(k, holds),
        rule="S10 [MAN: new material is not used until every related key holds it; MRK]",
        doc="Every related key in Enabled or Updating holds every version used by a ciphertext.",
    )


def crypto_available_when_enabled_or_updating(k: Kms) -> Property:
    def holds(s: str, r: str) -> Expr:
        usable = k.in_state(s, r, *CRYPTO_STATES)
        return usable.implies(k.enabled("Encrypt", s=s, r=r))

    return Invariant(
        "crypto_available_when_enabled_or_updating",
        for_every_key(k, holds),
        rule="S11 [API:UpdatePrimaryRegion: no delay, interruption or failure of crypto; KS]",
    )


def replicate_and_update_need_enabled_keys(k: Kms) -> Property:
    def for_action(inst: ActionInstance) -> Expr | None:
        if inst.action == "ReplicateKey":
            s, r = inst.param("s"), inst.param("r")
            return and_(k.is_primary(s, r), k.in_state(s, r, KeyState.Enabled))
        if inst.action == "UpdatePrimaryRegion":
            s, r, target = inst.param("s"), inst.param("r"), inst.param("primary")
            return and_(
                k.is_primary(s, r),
                k.in_state(s, r, KeyState.Enabled),
                k.is_replica(s, target),
                k.in_state(s, target, KeyState.Enabled),
            )
        return None

    return ActionProperty(
        "replicate_and_update_need_enabled_keys",
        for_action,
        rule="S12 [MRK, KS, UPD: both keys Enabled when the operation starts]",
    )


def other_keys_unchanged(k: Kms) -> Property:
    """S13 with only its documented exceptions, for every step (environment steps included): a
    step changes the key state of the keys it names and of no other; CompleteUpdate, which names
    none, of the updating pair only; Sync of none, since the key state is an independent property
    that KMS never synchronizes (§2). The third exception (primary material deletion in the
    pending-rotation states) has no counterpart here: the model has no pending-rotation states."""

    def for_action(inst: ActionInstance) -> Expr | None:
        named = _keys_named(k, inst)
        return and_(
            *(
                or_(
                    k.key_state[s, r].next.eq(k.key_state[s, r]),
                    (s, r) in named,
                    _in_updating_pair(k, inst, s, r),
                )
                for s, r in _sets_and_regions(k)
            )
        )

    return ActionProperty(
        "other_keys_unchanged",
        for_action,
        rule="S13 [MRK: no effect on related multi-Region keys; §2: key state is independent, "
        "never synced; UPD: the Updating pair; DEL: PendingReplicaDeletion -> PendingDeletion]",
        doc="A step changes only the state of the key it acts on (ReplicateKey: and the new "
        "replica; UpdatePrimaryRegion and CompleteUpdate: the updating pair); Sync changes none.",
    )


def _keys_named(k: Kms, inst: ActionInstance) -> set[tuple[str, str]]:
    """The keys a step acts on: its key set with each Region parameter (``r``, ``replica``,
    ``primary``). Sync acts on no key's state: it copies shared properties only (§2)."""
    if inst.action == "Sync":
        return set()
    params = dict(inst.params)
    return {(params["s"], v) for name, v in params.items() if name != "s" and v in k.Region}


def _in_updating_pair(k: Kms, inst: ActionInstance, s: str, r: str) -> Expr:
    """CompleteUpdate(s) acts on the keys of ``s`` that are Updating: the pair (UPD, S4)."""
    if inst.action == "CompleteUpdate" and inst.param("s") == s:
        return k.in_state(s, r, KeyState.Updating)
    return FALSE


def cancel_leaves_key_disabled(k: Kms) -> Property:
    def for_action(inst: ActionInstance) -> Expr | None:
        if inst.action != "CancelKeyDeletion":
            return None
        s, r = inst.param("s"), inst.param("r")
        return and_(
            k.in_state(s, r, *PENDING_DELETION), k.key_state[s, r].next.eq(KeyState.Disabled)
        )

    return ActionProperty(
        "cancel_leaves_key_disabled",
        for_action,
        rule="S14 [API:CancelKeyDeletion, DEL: the key is Disabled, not its earlier state]",
        doc="A successful CancelKeyDeletion acts on a key pending deletion and leaves it Disabled.",
    )


def new_replica_gets_shared_properties(k: Kms) -> Property:
    def for_action(inst: ActionInstance) -> Expr | None:
        if inst.action != "ReplicateKey":
            return None
        s, r, t = inst.param("s"), inst.param("r"), inst.param("replica")
        return and_(
            k.rotation[s, t].next.eq(k.rotation[s, r]),
            or_(k.is_external(s), k.versions[s, t].next.eq(k.versions[s, r])),
        )

    return ActionProperty(
        "new_replica_gets_shared_properties",
        for_action,
        rule="S16 [REP: a recreated replica has the same shared properties; MRK: all versions]",
        doc="A new (or recreated) replica gets the primary's rotation flag and all its versions.",
    )


def sync_source_is_primary(k: Kms) -> Property:
    def for_action(inst: ActionInstance) -> Expr | None:
        if inst.action != "Sync":
            return None
        return k.is_primary(inst.param("s"), inst.param("primary"))

    return ActionProperty(
        "sync_source_is_primary",
        for_action,
        rule="S9, §2 [MRK: shared properties are copied from the primary; UPD (seed 000): after "
        "an update the next sync gets them from the new primary, the former primary included]",
        doc="A Sync copies from the current primary, never from the demoted one.",
    )


def material_versions_never_decrease(k: Kms) -> Property:
    def for_action(inst: ActionInstance) -> Expr | None:
        def holds(s: str, r: str) -> Expr:
            stays = and_(
                ~k.is_external(s), k.exists(s, r), k.key_state[s, r].next.ne(KeyState.Absent)
            )
            return stays.implies(k.versions[s, r].next.ge(k.versions[s, r]))

        return for_every_key(k, holds)

    return ActionProperty(
        "material_versions_never_decrease",
        for_action,
        rule="§2, §3.8, §3.10 [MRK, MAN: a key holds all material versions, and ciphertext from "
        "any of them stays decryptable; UPD (seed 000): an update has no effect on key material]",
        doc="An AWS_KMS key never loses a material version while it exists.",
    )


def pending_deletion_left_only_by_cancel_or_deletion(k: Kms) -> Property:
    def for_action(inst: ActionInstance) -> Expr | None:
        cancelled = _keys_named(k, inst) if inst.action == "CancelKeyDeletion" else set()

        def holds(s: str, r: str) -> Expr:
            before, after = k.key_state[s, r], k.key_state[s, r].next
            ways_out = or_(
                after.eq(before),
                and_(before.eq(KeyState.PendingDeletion), after.eq(KeyState.Absent)),
                and_(
                    before.eq(KeyState.PendingReplicaDeletion),
                    after.eq(KeyState.PendingDeletion),
                    ~k.has_replicas(s),
                ),
                and_((s, r) in cancelled, after.eq(KeyState.Disabled)),
            )
            return k.in_state(s, r, *PENDING_DELETION).implies(ways_out)

        return for_every_key(k, holds)

    return ActionProperty(
        "pending_deletion_left_only_by_cancel_or_deletion",
        for_action,
        rule="§5 rules 2, 4, 7 [DEL, DK: deleted when the window ends; PendingReplicaDeletion -> "
        "PendingDeletion when the last replica is deleted; API:CancelKeyDeletion -> Disabled]",
        doc="A key leaves PendingDeletion only by deletion or a cancel (to Disabled), and "
        "PendingReplicaDeletion only for PendingDeletion once no replica is left, or by a cancel.",
    )


def no_rotation_while_disabled_or_pending_deletion(k: Kms) -> Property:
    def for_action(inst: ActionInstance) -> Expr | None:
        def holds(s: str, r: str) -> Expr:
            resting = and_(
                k.is_primary(s, r),
                ~k.is_external(s),
                k.in_state(s, r, KeyState.Disabled, *PENDING_DELETION),
            )
            return resting.implies(k.versions[s, r].next.le(k.versions[s, r]))

        return for_every_key(k, holds)

    return ActionProperty(
        "no_rotation_while_disabled_or_pending_deletion",
        for_action,
        rule="§3.7 [ROT: keys are not rotated while disabled or pending deletion]; §4 "
        "RotateKeyOnDemand X1, X3",
        doc="A primary that is Disabled or pending (replica) deletion gains no material version, "
        "on demand or automatically (replicas get versions only by Sync from the primary).",
    )


_E, _D, _PI, _C, _U = (
    KeyState.Enabled,
    KeyState.Disabled,
    KeyState.PendingImport,
    KeyState.Creating,
    KeyState.Updating,
)
_PD, _PRD = PENDING_DELETION

# §4's key-state matrix once more, read off docs/semantics.md for this property only (the model's
# guards come from model/rules.py; a test compares the two): the states in which each operation
# can succeed. Origin-dependent cells (?7, ?9) count as allowed: the origin decides them.
SUCCEEDS_IN: dict[str, frozenset[KeyState]] = {
    "ReplicateKey": frozenset({_E}),
    "UpdatePrimaryRegion": frozenset({_E}),  # KS marks Updating allowed; Q1 follows UPD and MAN
    "ScheduleKeyDeletion": frozenset({_E, _D, _PI, _C}),
    "CancelKeyDeletion": frozenset({_PD, _PRD}),
    "EnableKey": frozenset({_E, _D}),
    "DisableKey": frozenset({_E, _D}),
    "EnableKeyRotation": frozenset({_E, _U}),
    "DisableKeyRotation": frozenset({_E, _U}),
    "RotateKeyOnDemand": frozenset({_E, _U}),  # [I] Q10: the EnableKeyRotation row
    "ImportKeyMaterial": frozenset({_E, _D, _PI, _U}),
    "DeleteImportedKeyMaterial": frozenset({_E, _D, _PD, _PRD, _PI}),
    "Encrypt": frozenset({_E, _U}),
    "Decrypt": frozenset({_E, _U}),
}


def _states_allowing(k: Kms, operation: str) -> frozenset[KeyState]:
    """The §4 row of ``operation`` under the instance's readings of Q1 and Q10."""
    o = k.options
    if operation == "RotateKeyOnDemand":
        return SUCCEEDS_IN[o.rotate_on_demand_row]
    if operation == "UpdatePrimaryRegion" and o.update_allowed_while_updating:
        return SUCCEEDS_IN[operation] | {_U}
    return SUCCEEDS_IN[operation]


def key_state_matrix_respected(k: Kms) -> Property:
    """§4 as a property: an operation that succeeds found its key in a state its row allows.
    The table above is written from the document, not from the guards that implement it, so a
    guard dropped or misread is caught here. UpdatePrimaryRegion applies the row to both keys (Q5)."""

    def for_action(inst: ActionInstance) -> Expr | None:
        if inst.action not in SUCCEEDS_IN:
            return None
        s, regions = inst.param("s"), [inst.param("r")]
        if inst.action == "UpdatePrimaryRegion" and k.options.update_checks_both_keys:
            regions.append(inst.param("primary"))
        allowed = _states_allowing(k, inst.action)
        return and_(*(k.in_state(s, r, *allowed) for r in regions))

    return ActionProperty(
        "key_state_matrix_respected",
        for_action,
        rule="§4 key-state matrix [KS Dec-2022; UPD for Q1; Q5, Q10]",
        doc="Each operation succeeds only in the key states its §4 row allows (S11's converse: "
        "which states must refuse).",
    )


def describe_key_shows_one_primary(k: Kms) -> Property:
    """The observation users expect, and the documents deny: during Updating, DescribeKey "might
    display both the old and new primary keys as replicas" (seeds 000 and 001)."""

    def holds(s: str) -> Expr:
        some_key = exists(k.Region, lambda r: k.exists(s, r))
        never_zero = ~forall(k.Region, lambda r: ~k.exists(s, r) | may_show(k, s, r, Role.REPLICA))
        never_two = count(k.Region, lambda r: may_show(k, s, r, Role.PRIMARY)).le(1)
        return some_key.implies(and_(never_zero, never_two))

    return Invariant(
        "describe_key_shows_one_primary",
        forall(k.KeySet, holds),
        rule="S3 observed [UPD, seed 000; API:UpdatePrimaryRegion, seed 001]",
        doc="Expected to FAIL: a documented counterexample, kept as an example.",
        expected=Verdict.VIOLATED,
    )


# --- S17: a property of the model text ------------------------------------------------------------


def errors_outside_api_lists(model: Model) -> list[str]:
    """Every (action, error) the model can predict that its botocore error list lacks."""
    out = []
    for inst in model.instances:
        allowed = API_ERRORS.get(inst.action)
        if allowed is None:
            continue
        for guard in inst.guards:
            if guard.error is not None and guard.error not in allowed:
                out.append(f"{inst.action}: {guard.error}")
    return sorted(set(out))


# --- liveness (§7 L1-L6), under weak fairness of the environment steps ----------------------------


def liveness_properties(k: Kms) -> list[Property]:
    keys = _sets_and_regions(k)
    return [
        LeadsTo(
            "creating_completes",
            rule="L1 [REP, KS: Creating becomes Enabled or PendingImport after a few seconds]",
            doc="A Creating replica leaves Creating (Enabled, PendingImport, or PendingDeletion "
            "if its deletion was scheduled meanwhile).",
            cases=tuple(
                (k.in_state(s, r, KeyState.Creating), ~k.in_state(s, r, KeyState.Creating))
                for s, r in keys
            ),
        ),
        LeadsTo(
            "update_completes",
            rule="L2 [UPD: the Enabled key state is restored when the update is complete]",
            cases=tuple((k.any_updating(s), ~k.any_updating(s)) for s in k.KeySet),
        ),
        LeadsTo(
            "shared_changes_reach_replicas",
            rule="L3 [MRK, MAN: KMS synchronizes shared properties periodically]",
            doc="A replica whose rotation flag or versions differ from its primary's eventually "
            "agrees with it (or stops being a replica of it).",
            cases=tuple(
                (_lagging(k, s, p, r), ~_lagging(k, s, p, r))
                for s in k.KeySet
                for p in k.Region
                for r in k.Region
                if p != r
            ),
        ),
        LeadsTo(
            "pending_deletion_ends",
            rule="L4 [DK: the key is deleted when the waiting period ends, unless cancelled]",
            cases=tuple(
                (
                    k.in_state(s, r, KeyState.PendingDeletion),
                    k.in_state(s, r, KeyState.Absent, KeyState.Disabled),
                )
                for s, r in keys
            ),
        ),
        LeadsTo(
            "primary_deletion_follows_replicas",
            rule="L5 [DEL: when the last replica is deleted the primary goes to PendingDeletion]",
            doc="A primary in PendingReplicaDeletion whose replicas are all pending deletion "
            "leaves PendingReplicaDeletion, unless a replica's deletion is cancelled.",
            cases=tuple((_waiting_primary(k, s, r), ~_waiting_primary(k, s, r)) for s, r in keys),
        ),
        LeadsTo(
            "pending_replica_deletion_ends",
            rule="L6 [DEL: PendingReplicaDeletion can persist indefinitely]",
            doc="Expected to FAIL: not a property of KMS; kept as a documented counterexample.",
            expected=Verdict.VIOLATED,
            cases=tuple(
                (
                    k.in_state(s, r, KeyState.PendingReplicaDeletion),
                    ~k.in_state(s, r, KeyState.PendingReplicaDeletion),
                )
                for s, r in keys
            ),
        ),
    ]


def _lagging(k: Kms, s: str, p: str, r: str) -> Expr:
    differs = k.rotation[s, r].ne(k.rotation[s, p]) | and_(
        ~k.is_external(s), k.versions[s, r].ne(k.versions[s, p])
    )
    return and_(k.is_primary(s, p), k.is_replica(s, r), differs)


def _waiting_primary(k: Kms, s: str, r: str) -> Expr:
    others_pending = forall(
        k.Region,
        lambda x: (~k.is_replica(s, x)) | k.in_state(s, x, KeyState.PendingDeletion),
    )
    return and_(k.in_state(s, r, KeyState.PendingReplicaDeletion), others_pending)
