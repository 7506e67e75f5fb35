"""The seeded-bug catalogue: small named changes to the KMS model that a property must catch.

Each mutant is an edit of the built model (a guard dropped or added, an effect changed, an
environment step removed), so the model text stays free of bug switches. ``shortest`` is the length
of the shortest counterexample on the default instance, pinned by tests/test_mutants.py. The first
six are bugs that real KMS emulators are known to have (docs/semantics.md, LS; issue 4).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from mrkcheck.lang.expr import Expr, and_, ite, or_, same
from mrkcheck.lang.model import ActionInstance, Guard, Model, ModelError, Var
from mrkcheck.lang.mutation import Mutant, drop_guard, edit_effects, edit_instances, remove_action

from .kms import build
from .rules import INVALID_STATE, KeyState, Role


def _mutant(
    name: str,
    description: str,
    breaks: str,
    edit: Callable[[Model], Model],
    shortest: int,
    also: tuple[str, ...] = (),
) -> Mutant:
    def build_mutant(**options) -> Model:
        return edit(build(**options))

    build_mutant.__name__ = f"build_{name}"
    return Mutant(name, description, breaks, build_mutant, shortest, also)


def _set(model: Model, variable: str, *index: str) -> Var:
    return model.schema.variable(variable)[index]


def _replace_effect(action: str, variable: str, value: Callable[[ActionInstance, Var, Expr], Expr]):
    def edit(model: Model) -> Model:
        return edit_effects(
            model, action, lambda i, t, v: value(i, t, v) if t.name == variable else v
        )

    return edit


# --- edits that need more than one line ------------------------------------------------------------


def _demotion_forgotten(model: Model) -> Model:
    """UpdatePrimaryRegion promotes the new primary; the old one is never demoted."""

    def keep_old_primary(inst: ActionInstance, target: Var, value: Expr) -> Expr | None:
        if target.name == "role" and target.index == (inst.param("s"), inst.param("r")):
            return None
        return value

    return edit_effects(model, "UpdatePrimaryRegion", keep_old_primary)


def _deletion_scheduled_by_membership(model: Model) -> Model:
    """ScheduleKeyDeletion sends any key with related keys to PendingReplicaDeletion."""

    def edit(inst: ActionInstance) -> ActionInstance:
        s, r = inst.param("s"), inst.param("r")
        others = [x for x in model.universe("Region") if x != r]
        related = or_(*(_set(model, "key_state", s, x).ne(KeyState.Absent) for x in others))
        state = ite(related, KeyState.PendingReplicaDeletion, KeyState.PendingDeletion)
        return replace(inst, effects=((_set(model, "key_state", s, r), state),))

    return edit_instances(model, "ScheduleKeyDeletion", edit)


def _encrypt_refused_while_updating(model: Model) -> Model:
    def edit(inst: ActionInstance) -> ActionInstance:
        s, r = inst.param("s"), inst.param("r")
        extra = Guard(_set(model, "key_state", s, r).ne(KeyState.Updating), INVALID_STATE, "bug")
        return replace(inst, guards=inst.guards + (extra,))

    return edit_instances(model, "Encrypt", edit)


def _disable_related_keys(model: Model) -> Model:
    """DisableKey also disables every Enabled related key."""

    def edit(inst: ActionInstance) -> ActionInstance:
        s, r = inst.param("s"), inst.param("r")
        extra = []
        for x in model.universe("Region"):
            if x != r:
                slot = _set(model, "key_state", s, x)
                extra.append((slot, ite(slot.eq(KeyState.Enabled), KeyState.Disabled, slot)))
        return replace(inst, effects=inst.effects + tuple(extra))

    return edit_instances(model, "DisableKey", edit)


def _encrypt_newest(model: Model) -> Model:
    """Encrypt uses the calling key's newest version, even if a related key lacks it."""

    def edit(inst: ActionInstance) -> ActionInstance:
        s, r = inst.param("s"), inst.param("r")
        mine, seen = _set(model, "versions", s, r), _set(model, "ciphertext", s)
        return replace(inst, effects=((seen, ite(mine.gt(seen), mine, seen)),))

    return edit_instances(model, "Encrypt", edit)


def _widen_guard(
    model: Model,
    action: str,
    guard: Callable[[ActionInstance], Expr],
    also: Callable[[ActionInstance], Expr],
) -> Model:
    """Let ``action`` also fire where ``also`` holds: its guard equal to ``guard(inst)`` becomes
    ``guard(inst) or also(inst)`` (an error if no instance has that guard)."""
    hit = False

    def edit(inst: ActionInstance) -> ActionInstance:
        nonlocal hit
        old = guard(inst)
        guards = tuple(
            replace(g, condition=or_(old, also(inst))) if same(g.condition, old) else g
            for g in inst.guards
        )
        hit = hit or any(new is not g for new, g in zip(guards, inst.guards, strict=True))
        return replace(inst, guards=guards)

    mutated = edit_instances(model, action, edit)
    if not hit:
        raise ModelError(f"mutant: {action} has no guard to widen")
    return mutated


def _sync_from_demoted_primary(model: Model) -> Model:
    """Sync takes any Updating key as its source, so also the old primary, demoted at the call."""
    return _widen_guard(
        model,
        "Sync",
        lambda i: _set(model, "role", i.param("s"), i.param("primary")).eq(Role.PRIMARY),
        lambda i: _set(model, "key_state", i.param("s"), i.param("primary")).eq(KeyState.Updating),
    )


def _rotate_disabled_primary(model: Model) -> Model:
    """AutomaticRotation checks "not pending deletion" instead of "Enabled or Updating"."""

    def key_state(i: ActionInstance) -> Var:
        return _set(model, "key_state", i.param("s"), i.param("r"))

    return _widen_guard(
        model,
        "AutomaticRotation",
        lambda i: key_state(i).isin(KeyState.Enabled, KeyState.Updating),
        lambda i: key_state(i).eq(KeyState.Disabled),
    )


def _enables_disabled_keys(inst: ActionInstance, target: Var, value: Expr) -> Expr:
    """CompleteUpdate's new key state: Enabled for the pair, and for any Disabled key too."""
    return ite(target.eq(KeyState.Disabled), KeyState.Enabled, value)


def _sync_copies_key_state(model: Model) -> Model:
    """Sync also copies the enabled/disabled state (an independent property) from the source to
    a replica that is Enabled or Disabled."""
    on_off = (KeyState.Enabled, KeyState.Disabled)

    def edit(inst: ActionInstance) -> ActionInstance:
        s, p = inst.param("s"), inst.param("primary")
        params = dict(inst.params)
        targets = (
            [params["r"]] if "r" in params else [x for x in model.universe("Region") if x != p]
        )
        source = _set(model, "key_state", s, p)
        copies = []
        for x in targets:
            target = _set(model, "key_state", s, x)
            replica = _set(model, "role", s, x).eq(Role.REPLICA)
            copied = and_(replica, source.isin(*on_off), target.isin(*on_off))
            copies.append((target, ite(copied, source, target)))
        return replace(inst, effects=inst.effects + tuple(copies))

    return edit_instances(model, "Sync", edit)


def _update_adopts_replica_material(model: Model) -> Model:
    """UpdatePrimaryRegion copies the promoted replica's (possibly lagging) material versions to
    the old primary, instead of the old primary's to the new one."""

    def edit(inst: ActionInstance) -> ActionInstance:
        s, r, p = inst.param("s"), inst.param("r"), inst.param("primary")
        old, new = _set(model, "versions", s, r), _set(model, "versions", s, p)
        effects = tuple((t, v) for t, v in inst.effects if not same(t, new))
        if len(effects) == len(inst.effects):  # the instance that is refused at build time
            return inst
        return replace(inst, effects=effects + ((old, new),))

    return edit_instances(model, "UpdatePrimaryRegion", edit)


def _replicate_first_version_only(inst: ActionInstance, target: Var, value: Expr) -> Expr:
    return ite(value.eq(0), 0, 1)


def _deletion_keeps_role(inst: ActionInstance, target: Var, value: Expr) -> Expr | None:
    return None if target.name == "role" else value


def _sync_skips_rotation(inst: ActionInstance, target: Var, value: Expr) -> Expr | None:
    return None if target.name == "rotation" else value


def _schedule_always_pending_deletion(inst: ActionInstance, target: Var, value: Expr) -> Expr:
    return KeyState.PendingDeletion  # type: ignore[return-value]


MUTANTS: list[Mutant] = [
    # Bugs known in KMS emulators (issue 4's list).
    _mutant(
        "replicate_overwrites",
        "ReplicateKey without the existing-key guard: overwrites the related key already there",
        "one_key_per_region",
        lambda m: drop_guard(m, "ReplicateKey", "§3.2.4", case=""),
        3,
    ),
    _mutant(
        "replicate_from_replica",
        "ReplicateKey accepts a replica as the source key",
        "replicate_and_update_need_enabled_keys",
        lambda m: drop_guard(m, "ReplicateKey", "§3.2.2"),
        4,
    ),
    _mutant(
        "no_pending_replica_deletion",
        "a primary with replicas goes straight to PendingDeletion (no PendingReplicaDeletion)",
        "no_primary_deletion_with_replicas",
        lambda m: edit_effects(m, "ScheduleKeyDeletion", _schedule_always_pending_deletion),
        3,
    ),
    _mutant(
        "promote_before_demote",
        "UpdatePrimaryRegion promotes the new primary before (without) demoting the old one",
        "one_primary_per_key_set",
        _demotion_forgotten,
        4,
    ),
    _mutant(
        "sync_skips_rotation",
        "Sync never copies the automatic-rotation flag to replicas",
        "sync_copies_shared_properties",
        lambda m: edit_effects(m, "Sync", _sync_skips_rotation),
        4,
        also=("shared_changes_reach_replicas",),
    ),
    _mutant(
        "cancel_not_pending",
        "CancelKeyDeletion accepted on a key that is not pending deletion",
        "cancel_leaves_key_disabled",
        lambda m: drop_guard(m, "CancelKeyDeletion", "§4"),
        2,
    ),
    # One or more per remaining property.
    _mutant(
        "update_while_updating",
        "UpdatePrimaryRegion accepted while the keys are still Updating (KS table's reading, Q1)",
        "updating_pair",
        lambda m: drop_guard(m, "UpdatePrimaryRegion", "§4", key_state="Updating"),
        7,
    ),
    _mutant(
        "update_target_not_enabled",
        "UpdatePrimaryRegion does not check the target replica's key state",
        "replicate_and_update_need_enabled_keys",
        lambda m: drop_guard(m, "UpdatePrimaryRegion", "§4", case="target replica"),
        3,
    ),
    _mutant(
        "schedule_by_membership",
        "ScheduleKeyDeletion sends any key with related keys (a replica too) to PendingReplicaDeletion",
        "roles_of_transient_states",
        _deletion_scheduled_by_membership,
        3,
    ),
    _mutant(
        "primary_deletion_never_starts",
        "the primary never leaves PendingReplicaDeletion when its last replica is deleted",
        "lonely_pending_replica_deletion_moves_on",
        lambda m: remove_action(m, "PrimaryDeletionStarts"),
        5,
        also=("primary_deletion_follows_replicas",),
    ),
    _mutant(
        "replicate_pending_deletion_primary",
        "ReplicateKey accepts a primary that is pending (replica) deletion",
        "pending_deletion_primary_gains_no_replica",
        lambda m: drop_guard(m, "ReplicateKey", "§4", footnote="fn3"),
        3,
    ),
    _mutant(
        "rotate_on_replica",
        "RotateKeyOnDemand accepted on a replica key",
        "replicas_never_ahead_of_primary",
        lambda m: drop_guard(m, "RotateKeyOnDemand", "§3.8", case="primary"),
        4,
    ),
    _mutant(
        "encrypt_with_newest_version",
        "Encrypt uses new material before every related key holds it",
        "ciphertext_decryptable_everywhere",
        _encrypt_newest,
        5,
    ),
    _mutant(
        "encrypt_refused_while_updating",
        "Encrypt refused while the key is Updating",
        "crypto_available_when_enabled_or_updating",
        _encrypt_refused_while_updating,
        4,
    ),
    _mutant(
        "disable_related_keys",
        "DisableKey also disables the related keys",
        "other_keys_unchanged",
        _disable_related_keys,
        4,
    ),
    _mutant(
        "replicate_first_version_only",
        "ReplicateKey copies only the first material version to the new replica",
        "new_replica_gets_shared_properties",
        _replace_effect("ReplicateKey", "versions", _replicate_first_version_only),
        3,
    ),
    _mutant(
        "deletion_keeps_role",
        "a deleted key keeps its role: its metadata is not removed",
        "well_formed_keys",
        lambda m: edit_effects(m, "DeletionDue", _deletion_keeps_role),
        3,
    ),
    # Issue 10: plausible bugs that escaped every property above.
    _mutant(
        "sync_from_demoted_primary",
        "Sync copies from the demoted old primary while it is Updating",
        "sync_source_is_primary",
        _sync_from_demoted_primary,
        7,
        also=("material_versions_never_decrease",),
    ),
    _mutant(
        "update_adopts_replica_material",
        "UpdatePrimaryRegion gives the old primary the promoted replica's lagging material",
        "material_versions_never_decrease",
        _update_adopts_replica_material,
        5,
    ),
    _mutant(
        "enable_pending_replica_deletion",
        "EnableKey accepted on a primary in PendingReplicaDeletion",
        "pending_deletion_left_only_by_cancel_or_deletion",
        lambda m: drop_guard(m, "EnableKey", "§4", key_state="PendingReplicaDeletion"),
        4,
        also=("key_state_matrix_respected",),
    ),
    _mutant(
        "rotate_disabled_primary",
        "AutomaticRotation rotates a Disabled primary",
        "no_rotation_while_disabled_or_pending_deletion",
        _rotate_disabled_primary,
        4,
    ),
    _mutant(
        "encrypt_on_creating_replica",
        "Encrypt accepted on a replica that is still Creating",
        "key_state_matrix_respected",
        lambda m: drop_guard(m, "Encrypt", "§4", key_state="Creating"),
        3,
    ),
    _mutant(
        "complete_update_enables_third_key",
        "CompleteUpdate also enables a Disabled key outside the updating pair",
        "other_keys_unchanged",
        _replace_effect("CompleteUpdate", "key_state", _enables_disabled_keys),
        8,
    ),
    _mutant(
        "sync_copies_key_state",
        "Sync copies the primary's Enabled/Disabled state to the replica",
        "other_keys_unchanged",
        _sync_copies_key_state,
        6,
    ),
]

# Liveness: an environment step that never happens (weak fairness cannot save what is not there).
MUTANTS += [
    _mutant(
        "creation_never_completes",
        "a replica never leaves Creating (CompleteCreate is missing)",
        "creating_completes",
        lambda m: remove_action(m, "CompleteCreate"),
        2,
    ),
    _mutant(
        "update_never_completes",
        "the updating pair never returns to Enabled (CompleteUpdate is missing)",
        "update_completes",
        lambda m: remove_action(m, "CompleteUpdate"),
        4,
    ),
    _mutant(
        "sync_never_runs",
        "KMS never synchronizes shared properties (Sync is missing)",
        "shared_changes_reach_replicas",
        lambda m: remove_action(m, "Sync"),
        6,
    ),
    _mutant(
        "deletion_never_due",
        "a key pending deletion is never deleted (DeletionDue is missing)",
        "pending_deletion_ends",
        lambda m: remove_action(m, "DeletionDue"),
        2,
    ),
]

BY_NAME = {m.name: m for m in MUTANTS}
