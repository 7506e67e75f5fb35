"""Strengthening lemmas for proving the KMS invariants by induction (``mrkcheck prove``).

Each lemma is a named state invariant that is universal over Regions and mentions at most two
Regions per conjunct, so the cutoff argument of :mod:`mrkcheck.check.cutoff` (docs/any-regions.md)
applies to it. Lemmas are proved together with the property (the induction step checks Lemmas'),
never assumed. They were found from the counterexamples to induction that Z3 returned.
"""

from __future__ import annotations

from collections.abc import Callable

from mrkcheck.lang.expr import Expr, exists, forall
from mrkcheck.lang.model import Invariant, Model, Property
from mrkcheck.model.rules import KeyState, Role

# The invariants ``mrkcheck prove --any-regions`` proves by default, and the option that sets the
# number of Regions.
ANY_SIZE = ("one_primary_per_key_set", "one_key_per_region", "no_primary_deletion_with_replicas")
SIZE_OPTION = "regions"


def lemmas(model: Model) -> list[Property]:
    S, R = model.universe("KeySet"), model.universe("Region")
    role, state = model.schema.variable("role"), model.schema.variable("key_state")
    created = model.schema.variable("created")

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
    }
    names = {p.name for p in model.properties}
    return [Invariant(n, e) for n, e in named.items() if n not in names]
