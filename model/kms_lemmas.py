"""Strengthening lemmas for proving the KMS invariants by induction (``mrkcheck prove``).

Each lemma is a named state invariant that is universal over Regions and mentions at most two
Regions per conjunct, so the cutoff argument of :mod:`mrkcheck.check.cutoff` (docs/any-regions.md)
applies to it, except the :data:`INSTANCE_ONLY` ones about ciphertext (see there). Lemmas are proved together with the property (the induction step checks Lemmas'),
never assumed. They were found from the counterexamples to induction that Z3 returned.
"""

from __future__ import annotations

from collections.abc import Callable

from mrkcheck.lang.expr import Expr, exists, forall
from mrkcheck.lang.model import Invariant, Model, Property
from mrkcheck.model.rules import KeyState, Origin, Role

# The invariants ``mrkcheck prove --any-regions`` proves by default, and the option that sets the
# number of Regions.
ANY_SIZE = ("one_primary_per_key_set", "one_key_per_region", "no_primary_deletion_with_replicas")
SIZE_OPTION = "regions"

# Lemmas about ``ciphertext[s]``, needed only by ciphertext_decryptable_everywhere. Encrypt's
# effect on that slot reads every Region (the smallest version any related key holds), so the
# model is not uniform in it and the cutoff argument of ``--any-regions`` cannot take them: they
# serve ``--induction`` on the instance checked, and ``any_size_lemmas`` leaves them out.
INSTANCE_ONLY = ("no_ciphertext_before_creation", "every_key_holds_encrypted_versions")


def any_size_lemmas(model: Model) -> list[Property]:
    """The lemmas ``mrkcheck prove --any-regions`` uses: all but :data:`INSTANCE_ONLY`."""
    return [p for p in lemmas(model) if p.name not in INSTANCE_ONLY]


def lemmas(model: Model) -> list[Property]:
    S, R = model.universe("KeySet"), model.universe("Region")
    role, state = model.schema.variable("role"), model.schema.variable("key_state")
    created = model.schema.variable("created")
    versions, ciphertext = model.schema.variable("versions"), model.schema.variable("ciphertext")
    origin = model.schema.variable("origin")

    def each(body: Callable[[str, str], Expr]) -> Expr:
        return forall(S, lambda s: forall(R, lambda r: body(s, r)))

    def pairs(body: Callable[[str, str, str], Expr]) -> Expr:
        return forall(
            S, lambda s: forall(R, lambda a: forall(R, lambda b: body(s, a, b) if a != b else True))
        )

    def primary(s: str, r: str) -> Expr:
        return role[s, r].eq(Role.PRIMARY)

    def replica(s: str, r: str) -> Expr:
        return role[s, r].eq(Role.REPLICA)

    def in_state(s: str, r: str, *states: KeyState) -> Expr:
        return state[s, r].isin(*states)

    named = {
        "role_iff_key_exists": each(
            lambda s, r: role[s, r].eq(Role.NONE).eq(in_state(s, r, KeyState.Absent))
        ),
        "uncreated_sets_are_empty": each(
            lambda s, r: (~created[(s,)]).implies(in_state(s, r, KeyState.Absent))
        ),
        "at_most_one_primary": pairs(lambda s, a, b: ~(primary(s, a) & primary(s, b))),
        "deleting_primary_has_no_replicas": pairs(
            lambda s, a, b: (primary(s, a) & in_state(s, a, KeyState.PendingDeletion)).implies(
                ~replica(s, b)
            )
        ),
        "a_key_needs_a_primary": forall(
            S,
            lambda s: exists(R, lambda r: ~in_state(s, r, KeyState.Absent)).implies(
                exists(R, lambda r: primary(s, r))
            ),
        ),
        "creating_is_replica": each(
            lambda s, r: in_state(s, r, KeyState.Creating).implies(replica(s, r))
        ),
        "replica_deletion_wait_is_primary": each(
            lambda s, r: in_state(s, r, KeyState.PendingReplicaDeletion).implies(primary(s, r))
        ),
        # material_versions_never_decrease: a Sync copies the primary's versions onto a replica,
        # so no AWS_KMS replica may be ahead of its primary (the property
        # replicas_never_ahead_of_primary, restated here because properties are not lemmas).
        "replica_versions_within_primary": pairs(
            lambda s, a, b: (
                origin[(s,)].eq(Origin.AWS_KMS) & primary(s, a) & replica(s, b)
            ).implies(versions[s, b].le(versions[s, a]))
        ),
        # ciphertext_decryptable_everywhere (S10) speaks only of keys in Enabled or Updating; the
        # induction needs it of every existing key (EnableKey turns a Disabled key Enabled
        # without touching its versions), and needs a set never created to have no ciphertext
        # yet (its CreateKey holds version 1 only: the CTI without this lemma).
        "no_ciphertext_before_creation": forall(
            S, lambda s: (~created[(s,)]).implies(ciphertext[(s,)].eq(0))
        ),
        "every_key_holds_encrypted_versions": each(
            lambda s, r: (
                origin[(s,)].eq(Origin.AWS_KMS) & ~in_state(s, r, KeyState.Absent)
            ).implies(versions[s, r].ge(ciphertext[(s,)]))
        ),
    }
    names = {p.name for p in model.properties}
    return [Invariant(n, e) for n, e in named.items() if n not in names]
