"""Random runs of a model: long real traces for viewers, screenshots and round-trip tests.

Counterexamples are shortest by construction, so they are short; a viewer must also stay readable
for thirty steps. A seeded random walk that prefers steps that change something gives such runs,
and they are real runs (every step is enabled), so they also exercise replay.
"""

from __future__ import annotations

import random

from mrkcheck.check.compile import compile_model
from mrkcheck.check.result import Step, Trace
from mrkcheck.lang.model import Model, State


def random_run(model: Model, length: int, seed: int = 0, stutter: bool = False) -> Trace:
    """A run of up to ``length`` steps from the first initial state; stops early at a deadlock.

    Without ``stutter`` self-loops are taken only when nothing else is enabled (and then the
    walk stops), so every step changes the state.
    """
    rng = random.Random(seed)
    compiled = compile_model(model)
    state: State = model.initial[0]
    steps = [Step(None, (), state)]
    while len(steps) <= length:
        out: list[tuple[int, State]] = []
        compiled.step(state, out, [])
        moves = out if stutter else [(i, t) for i, t in out if t != state]
        if not moves:
            break
        index, state = rng.choice(moves)
        inst = model.instances[index]
        steps.append(Step(inst.action, inst.params, state))
    return Trace(model.schema, steps, None, model.name, None, dict(model.options), model.source)
