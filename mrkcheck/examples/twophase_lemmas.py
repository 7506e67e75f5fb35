"""Strengthening lemmas that make TwoPhase's invariants inductive (for ``mrkcheck prove``).

Each lemma is a named state invariant, universal over resource managers with at most one manager
per conjunct, so that the cutoff argument of :mod:`mrkcheck.check.cutoff` applies to them. They are
proved together with the property (Lemmas' is part of the induction step), never assumed.
"""

from __future__ import annotations

from collections.abc import Callable

from mrkcheck.examples.twophase import RMState, TMState
from mrkcheck.lang.expr import Expr, ExprLike, forall
from mrkcheck.lang.model import Invariant, Model, Property


def lemmas(model: Model) -> list[Property]:
    RM = model.universe("RM")
    var = model.schema.variable
    rm_state, tm_prepared, msg_prepared = var("rmState"), var("tmPrepared"), var("msgPrepared")
    tm, commit, abort = var("tmState").ref, var("msgCommit").ref, var("msgAbort").ref

    def each(body: Callable[[tuple[str]], ExprLike]) -> Expr:
        return forall(RM, lambda r: body((r,)))

    named = {
        "commit_msg_iff_tm_committed": commit.eq(1).implies(tm.eq(TMState.committed))
        & tm.eq(TMState.committed).implies(commit),
        "abort_msg_iff_tm_aborted": abort.eq(1).implies(tm.eq(TMState.aborted))
        & tm.eq(TMState.aborted).implies(abort),
        "committed_rm_needs_commit_msg": each(
            lambda r: rm_state[r].eq(RMState.committed).implies(commit)
        ),
        "tm_prepared_needs_msg": each(lambda r: tm_prepared[r].implies(msg_prepared[r])),
        "prepared_msg_needs_prepared_rm": each(
            lambda r: (msg_prepared[r] & ~tm.eq(TMState.aborted)).implies(
                rm_state[r].isin(RMState.prepared, RMState.committed)
            )
        ),
        "tm_committed_all_prepared": each(
            lambda r: tm.eq(TMState.committed).implies(tm_prepared[r])
        ),
    }
    return [Invariant(name, expr) for name, expr in named.items()]


# Invariants that ``mrkcheck prove --any-regions`` targets by default for this model.
ANY_SIZE = ("TCConsistent", "TMCommitImpliesAllPrepared")

# The option that sets the size of the universe the any-size proof is about.
SIZE_OPTION = "rm"
