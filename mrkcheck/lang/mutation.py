"""Seeded bugs as data: a mutant is a named small change to a model that some property must catch.

Most mutants are edits of the built model (a guard dropped, an effect replaced, an action removed),
expressed with the helpers below so that the model text itself stays free of bug switches.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from mrkcheck.lang.expr import Expr, ExprLike, Var, lift
from mrkcheck.lang.model import ActionInstance, Guard, Model, ModelError


@dataclass(frozen=True)
class Mutant:
    """A seeded bug: ``build(**options)`` gives the mutated model; ``breaks`` names the property
    it must violate, and ``shortest`` the length of its shortest counterexample on the default
    instance (pinned by the tests)."""

    name: str
    description: str
    breaks: str
    build: Callable[..., Model]
    shortest: int | None = None
    also: tuple[str, ...] = ()  # further properties it must violate (lengths not pinned)


def drop_guard(model: Model, operation: str, rule: str, **cell: str) -> Model:
    """Remove the guards of ``operation`` whose :class:`GuardId` encodes ``rule``; ``cell`` narrows
    the choice to guards with those identity fields (``key_state="Updating"``,
    ``case="target replica"``). Guards are chosen by identity, never by their prose."""
    hit = False

    def chosen(guard: Guard) -> bool:
        return guard.identity is not None and guard.identity.matches(operation, rule, **cell)

    def edit(inst: ActionInstance) -> ActionInstance:
        nonlocal hit
        if inst.action != operation:
            return inst
        kept = tuple(g for g in inst.guards if not chosen(g))
        hit = hit or len(kept) != len(inst.guards)
        return replace(inst, guards=kept)

    mutated = model.map_instances(edit)
    if not hit:
        wanted = ", ".join([rule, *(f"{k}={v}" for k, v in cell.items())])
        raise ModelError(f"mutant: {operation} has no guard for {wanted}")
    return mutated


def remove_action(model: Model, action: str) -> Model:
    """Drop every instance of ``action`` (an environment step that never happens, say)."""
    if action not in model.action_names:
        raise ModelError(f"mutant: no action {action}")
    return model.map_instances(lambda i: None if i.action == action else i)


def edit_effects(
    model: Model,
    action: str,
    change: Callable[[ActionInstance, Var, Expr], ExprLike | None],
) -> Model:
    """Replace effects of ``action``: ``change`` returns the new value, or None to drop the effect."""

    def edit(inst: ActionInstance) -> ActionInstance:
        if inst.action != action:
            return inst
        effects = []
        for target, value in inst.effects:
            new = change(inst, target, value)
            if new is not None:
                effects.append((target, lift(new)))
        return replace(inst, effects=tuple(effects))

    return model.map_instances(edit)


def edit_instances(
    model: Model, action: str, edit: Callable[[ActionInstance], ActionInstance]
) -> Model:
    """Pass every instance of ``action`` through ``edit`` (add a guard, add an effect...)."""
    if action not in model.action_names:
        raise ModelError(f"mutant: no action {action}")
    return model.map_instances(lambda i: edit(i) if i.action == action else i)
