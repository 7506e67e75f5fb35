"""TLA+'s TwoPhase commit (tlaplus/Examples, transaction_commit/TwoPhase.tla), in the model language.

The fixture that pins the engine's counting: with 3 resource managers TLC reports 288 distinct
states, 1,146 generated, depth 11. Messages are never removed, so ``msgs`` becomes one boolean per
possible message. Resource managers are interchangeable (symmetric).
"""

from __future__ import annotations

from enum import IntEnum

from mrkcheck.lang.expr import forall
from mrkcheck.lang.model import Model, ModelBuilder, ModelError, Transition
from mrkcheck.lang.mutation import Mutant


class RMState(IntEnum):
    working = 0
    prepared = 1
    committed = 2
    aborted = 3


class TMState(IntEnum):
    init = 0
    committed = 1
    aborted = 2


def build(rm: int = 3, symmetric: bool = True, bug: str | None = None) -> Model:
    """TwoPhase with ``rm`` resource managers.

    ``bug="early_commit"`` is a seeded bug for tests: the TM commits without waiting for every
    Prepared message, which breaks TCConsistent.
    """
    if not 1 <= rm <= 12:
        raise ModelError(f"--rm must be between 1 and 12, not {rm}")
    m = ModelBuilder("twophase", doc=__doc__ or "", options={"rm": rm})
    RM = m.universe("RM", [f"rm{i}" for i in range(1, rm + 1)], symmetric=symmetric)
    rm_state = m.variable("rmState", RMState, over=[RM], init=RMState.working)
    tm_state = m.variable("tmState", TMState, init=TMState.init).ref
    tm_prepared = m.variable("tmPrepared", bool, over=[RM], init=False)
    msg_prepared = m.variable(
        "msgPrepared", bool, over=[RM], init=False, doc="Prepared(rm) in msgs"
    )
    msg_commit = m.variable("msgCommit", bool, init=False, doc='[type |-> "Commit"] in msgs').ref
    msg_abort = m.variable("msgAbort", bool, init=False, doc='[type |-> "Abort"] in msgs').ref

    @m.action(rm=RM)
    def TMRcvPrepared(rm: str) -> Transition:
        """The TM receives a Prepared message from resource manager rm."""
        return Transition(
            guards=[tm_state.eq(TMState.init), msg_prepared[rm]],
            effects=[(tm_prepared[rm], True)],
        )

    @m.action()
    def TMCommit() -> Transition:
        """The TM commits; enabled iff every RM has sent a Prepared message."""
        every_prepared = forall(RM, lambda r: tm_prepared[r])
        return Transition(
            guards=[tm_state.eq(TMState.init)]
            + ([] if bug == "early_commit" else [every_prepared]),
            effects=[(tm_state, TMState.committed), (msg_commit, True)],
        )

    @m.action()
    def TMAbort() -> Transition:
        """The TM spontaneously aborts the transaction."""
        return Transition(
            guards=[tm_state.eq(TMState.init)],
            effects=[(tm_state, TMState.aborted), (msg_abort, True)],
        )

    @m.action(rm=RM)
    def RMPrepare(rm: str) -> Transition:
        """Resource manager rm prepares."""
        return Transition(
            guards=[rm_state[rm].eq(RMState.working)],
            effects=[(rm_state[rm], RMState.prepared), (msg_prepared[rm], True)],
        )

    @m.action(rm=RM)
    def RMChooseToAbort(rm: str) -> Transition:
        """Resource manager rm spontaneously decides to abort."""
        return Transition(
            guards=[rm_state[rm].eq(RMState.working)],
            effects=[(rm_state[rm], RMState.aborted)],
        )

    @m.action(rm=RM)
    def RMRcvCommitMsg(rm: str) -> Transition:
        """Resource manager rm is told by the TM to commit."""
        return Transition(guards=[msg_commit], effects=[(rm_state[rm], RMState.committed)])

    @m.action(rm=RM)
    def RMRcvAbortMsg(rm: str) -> Transition:
        """Resource manager rm is told by the TM to abort."""
        return Transition(guards=[msg_abort], effects=[(rm_state[rm], RMState.aborted)])

    m.invariant(
        "TCConsistent",
        forall(
            RM,
            lambda r1: forall(
                RM,
                lambda r2: ~(rm_state[r1].eq(RMState.aborted) & rm_state[r2].eq(RMState.committed)),
            ),
        ),
        rule="TCommit.tla: no RM commits while another aborts",
    )
    m.invariant(
        "TMCommitImpliesAllPrepared",
        tm_state.eq(TMState.committed).implies(forall(RM, lambda r: msg_prepared[r])),
        rule="TwoPhase.tla: TMCommit requires tmPrepared = RM",
    )
    return m.build()


def _early_commit(**options) -> Model:
    return build(bug="early_commit", **options)


MUTANTS = [
    Mutant(
        "early_commit",
        "the TM commits before every resource manager is prepared",
        "TCConsistent",
        _early_commit,
        shortest=3,
    )
]
