"""The peer multi-Region key model (``../shared/peers/MultiRegionKeys.tla``) in the model language.

A simplified model of KMS multi-Region keys written for TLC and Spin as a fixed benchmark: the
same text here must give exactly the state counts TLC reports (2,697 distinct states, 15,496
generated, depth 14 with 3 Regions and one key set; 491 and 2,808 with Region symmetry).

The TLA+ ``slot[k][r]`` is "none" or a record (role, state); here it is two slots, ``role[k, r]``
and ``state[k, r]``, that are ``NONE``/``none`` together (``TypeOK`` says so). The reachable states
are in one-to-one correspondence with TLC's, so every count is the same. TLC's ``Next`` takes
``SetRotation(k, b)`` for each boolean ``b``: the universe ``Flag`` plays ``BOOLEAN``.

Deadlock: the TLA+ configuration turns deadlock checking off, because a system where every key
set was created and then deleted has no enabled action, a legitimate end. Here that end is the
model's terminal condition, so deadlock checking stays on for every other state.
"""

from __future__ import annotations

from enum import IntEnum

from mrkcheck.lang.expr import Expr, count, exists, forall, implies, ite
from mrkcheck.lang.model import Model, ModelBuilder, ModelError, Transition
from mrkcheck.lang.mutation import Mutant, edit_effects

MAX_REGIONS, MAX_KEY_SETS = 8, 4


class Role(IntEnum):
    NONE = 0
    PRIMARY = 1
    REPLICA = 2


class KeyState(IntEnum):
    none = 0
    Creating = 1
    Enabled = 2
    Disabled = 3
    PendingDeletion = 4
    PendingReplicaDeletion = 5
    Updating = 6


def build(regions: int = 3, key_sets: int = 1, symmetric: bool = True) -> Model:
    """MultiRegionKeys with ``regions`` Regions (r1, r2...) and ``key_sets`` key sets (k1...).

    ``symmetric`` declares the Regions interchangeable (TLC's ``SYMMETRY RegionSymmetry``); it
    takes effect only with ``--symmetry``.
    """
    if not 1 <= regions <= MAX_REGIONS:
        raise ModelError(f"--regions must be between 1 and {MAX_REGIONS}, not {regions}")
    if not 1 <= key_sets <= MAX_KEY_SETS:
        raise ModelError(f"--key-sets must be between 1 and {MAX_KEY_SETS}, not {key_sets}")
    m = ModelBuilder("peer", doc=__doc__ or "", options={"regions": regions, "key_sets": key_sets})
    K = m.universe("KeySets", [f"k{i}" for i in range(1, key_sets + 1)])
    R = m.universe("Regions", [f"r{i}" for i in range(1, regions + 1)], symmetric=symmetric)
    Flag = m.universe("Flag", ["FALSE", "TRUE"])
    role = m.variable("role", Role, over=[K, R], init=Role.NONE, doc="slot[k][r].role")
    state = m.variable("state", KeyState, over=[K, R], init=KeyState.none, doc="slot[k][r].state")
    rotation = m.variable("rotation", bool, over=[K], init=False, doc="shared rotation property")
    replica_rotation = m.variable(
        "replicaRotation", bool, over=[K, R], init=False, doc="a replica's synced copy"
    )
    created = m.variable("created", bool, over=[K], init=False, doc="set k was created once")

    def exists_key(k: str, r: str) -> Expr:
        return role[k, r].ne(Role.NONE)

    def is_primary(k: str, r: str) -> Expr:
        return role[k, r].eq(Role.PRIMARY)

    def is_replica(k: str, r: str) -> Expr:
        return role[k, r].eq(Role.REPLICA)

    def any_key(k: str) -> Expr:
        return exists(R, lambda r: exists_key(k, r))

    def has_replicas(k: str) -> Expr:
        return exists(R, lambda r: is_replica(k, r))

    def primaries(k: str) -> Expr:
        return count(R, lambda r: is_primary(k, r))

    def key_is(k: str, r: str, the_role: Role, the_state: KeyState) -> Expr:
        return role[k, r].eq(the_role) & state[k, r].eq(the_state)

    def set_state(k: str, r: str, guard: Expr, new: KeyState | Expr) -> Transition:
        return Transition(guards=[guard], effects=[(state[k, r], new)])

    @m.action(k=K, r=R)
    def CreateKey(k: str, r: str) -> Transition:
        """No key of k exists anywhere, and k was never created before."""
        return Transition(
            guards=[~created[k], ~any_key(k)],
            effects=[
                (role[k, r], Role.PRIMARY),
                (state[k, r], KeyState.Enabled),
                (created[k], True),
            ],
        )

    @m.action(k=K, source=R, to=R)
    def ReplicateKey(k: str, source: str, to: str) -> Transition | None:
        """The Enabled or Disabled primary in ``source`` gets a Creating replica in ``to``."""
        if source == to:
            return None
        return Transition(
            guards=[
                is_primary(k, source),
                state[k, source].isin(KeyState.Enabled, KeyState.Disabled),
                ~exists_key(k, to),
            ],
            effects=[
                (role[k, to], Role.REPLICA),
                (state[k, to], KeyState.Creating),
                (replica_rotation[k, to], rotation[k]),
            ],
        )

    @m.action(environment=True, k=K, r=R)
    def FinishCreating(k: str, r: str) -> Transition:
        return set_state(k, r, state[k, r].eq(KeyState.Creating), KeyState.Enabled)

    @m.action(k=K, source=R, to=R)
    def UpdatePrimaryRegion(k: str, source: str, to: str) -> Transition | None:
        """The roles swap in one atomic step, both keys becoming Updating."""
        if source == to:
            return None
        return Transition(
            guards=[
                key_is(k, source, Role.PRIMARY, KeyState.Enabled),
                key_is(k, to, Role.REPLICA, KeyState.Enabled),
            ],
            effects=[
                (role[k, source], Role.REPLICA),
                (state[k, source], KeyState.Updating),
                (role[k, to], Role.PRIMARY),
                (state[k, to], KeyState.Updating),
                (replica_rotation[k, source], rotation[k]),
                (replica_rotation[k, to], False),
            ],
        )

    @m.action(environment=True, k=K, r=R)
    def FinishUpdating(k: str, r: str) -> Transition:
        return set_state(k, r, state[k, r].eq(KeyState.Updating), KeyState.Enabled)

    @m.action(k=K, r=R)
    def EnableKey(k: str, r: str) -> Transition:
        return set_state(k, r, state[k, r].eq(KeyState.Disabled), KeyState.Enabled)

    @m.action(k=K, r=R)
    def DisableKey(k: str, r: str) -> Transition:
        return set_state(k, r, state[k, r].eq(KeyState.Enabled), KeyState.Disabled)

    @m.action(k=K, r=R)
    def ScheduleKeyDeletion(k: str, r: str) -> Transition:
        """A replica, or a primary alone, goes to PendingDeletion; a primary with replicas (in
        any state) to PendingReplicaDeletion. Only from Enabled or Disabled."""
        waits = ~is_replica(k, r) & has_replicas(k)
        new = ite(waits, KeyState.PendingReplicaDeletion, KeyState.PendingDeletion)
        return set_state(k, r, state[k, r].isin(KeyState.Enabled, KeyState.Disabled), new)

    @m.action(k=K, r=R)
    def CancelKeyDeletion(k: str, r: str) -> Transition:
        pending = state[k, r].isin(KeyState.PendingDeletion, KeyState.PendingReplicaDeletion)
        return set_state(k, r, pending, KeyState.Disabled)

    @m.action(environment=True, k=K, r=R)
    def ExpireDeletion(k: str, r: str) -> Transition:
        """The waiting period ends: the key is gone, and so is its replica copy."""
        return Transition(
            guards=[state[k, r].eq(KeyState.PendingDeletion)],
            effects=[
                (role[k, r], Role.NONE),
                (state[k, r], KeyState.none),
                (replica_rotation[k, r], False),
            ],
        )

    @m.action(environment=True, k=K, r=R)
    def PrimaryWaitOver(k: str, r: str) -> Transition:
        """A primary pending replica deletion whose replicas are all gone."""
        waiting = state[k, r].eq(KeyState.PendingReplicaDeletion) & ~has_replicas(k)
        return set_state(k, r, waiting, KeyState.PendingDeletion)

    @m.action(k=K, b=Flag)
    def SetRotation(k: str, b: str) -> Transition:
        value = b == "TRUE"
        return Transition(
            guards=[
                exists(R, lambda r: key_is(k, r, Role.PRIMARY, KeyState.Enabled)),
                rotation[k].ne(value),
            ],
            effects=[(rotation[k], value)],
        )

    @m.action(environment=True, k=K, r=R)
    def SyncRotation(k: str, r: str) -> Transition:
        return Transition(
            guards=[is_replica(k, r), replica_rotation[k, r].ne(rotation[k])],
            effects=[(replica_rotation[k, r], rotation[k])],
        )

    def every_key(body) -> Expr:  # \A k \in KeySets, r \in Regions
        return forall(K, lambda k: forall(R, lambda r: body(k, r)))

    m.invariant(
        "TypeOK",
        every_key(lambda k, r: role[k, r].eq(Role.NONE).eq(state[k, r].eq(KeyState.none))),
        rule="TypeOK: slot[k][r] is NoKey or a key with a role and a state",
    )
    m.invariant(
        "AtMostOnePrimary",
        forall(K, lambda k: primaries(k).le(1)),
        rule="I1: never two primaries in one key set",
    )
    m.invariant(
        "ExactlyOnePrimaryWhenAny",
        forall(K, lambda k: implies(any_key(k), primaries(k).eq(1))),
        rule="I2: a key set that has any key has exactly one primary",
    )
    m.invariant(
        "NoOrphanReplicas",
        forall(
            K,
            lambda k: implies(
                has_replicas(k),
                exists(R, lambda p: is_primary(k, p) & state[k, p].ne(KeyState.PendingDeletion)),
            ),
        ),
        rule="I3: while replicas exist, their primary exists and is not PendingDeletion",
    )
    m.invariant(
        "PendingReplicaDeletionOnlyOnPrimary",
        every_key(
            lambda k, r: implies(state[k, r].eq(KeyState.PendingReplicaDeletion), is_primary(k, r))
        ),
        rule="I4: only a primary can be in PendingReplicaDeletion",
    )
    m.invariant(
        "NotCreatedMeansEmpty",
        forall(K, lambda k: implies(~created[k], ~any_key(k))),
        rule="I5: a key set that was never created has no key",
    )
    m.invariant(
        "ReplicaCopyOnlyOnReplicas",
        every_key(lambda k, r: implies(replica_rotation[k, r], is_replica(k, r))),
        rule="I6: the replica copies are kept FALSE except on replicas",
    )
    m.terminal(forall(K, lambda k: created[k] & ~any_key(k)))
    return m.build()


def _update_without_demotion(**options) -> Model:
    """UpdatePrimaryRegion promotes the replica but leaves the old primary PRIMARY."""
    return edit_effects(
        build(**options),
        "UpdatePrimaryRegion",
        lambda inst, target, value: (
            None if target.name == "role" and target.index[1] == inst.param("source") else value
        ),
    )


MUTANTS = [
    Mutant(
        "update_without_demotion",
        "UpdatePrimaryRegion promotes the replica without demoting the primary",
        "AtMostOnePrimary",
        _update_without_demotion,
        shortest=4,
    )
]
