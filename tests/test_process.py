"""The generic process construct (mrkcheck/lang/process.py) on a model that is not KMS: a
program counter and a local become state slots, branches become guarded instances, a process at
its end is terminal, and the engine explores every interleaving with the model's own steps."""

from __future__ import annotations

import pytest

from mrkcheck.check.checker import Checker
from mrkcheck.check.explicit import reachable
from mrkcheck.lang.expr import and_
from mrkcheck.lang.model import Invariant, ModelBuilder, ModelError, Transition
from mrkcheck.lang.process import Branch, Extension, Process


def counter_model():
    """x counts up to 3, on its own (an environment step)."""
    m = ModelBuilder("counter")
    x = m.variable("x", range(0, 4))

    @m.action(environment=True)
    def tick():
        return Transition(guards=[x.ref.lt(3)], effects=[(x.ref, x.ref + 1)])

    return m.build(), x


def waiter(x, seen):
    """Waits until x >= 2, remembering in ``seen`` the x it saw, then ends."""
    p = Process("waiter", ends=("done",))
    for value in (2, 3):
        p.at("1").append(
            Branch("look", (("x", str(value)),), x.ref.eq(value), "done", ((seen.ref, x.ref),))
        )
    return p


def test_a_process_interleaves_with_the_model_and_ends_in_a_terminal_state():
    model, x = counter_model()
    ext = Extension(model, "counter+waiter")
    seen = ext.variable("waiter.seen", range(0, 4))
    p = waiter(x, seen)
    at_end = ext.at_location(p, "done")
    saw_two = Invariant("saw_two", at_end.implies(seen.ref.eq(2)))
    built = ext.build([p], keep=lambda i: True, fair=True, properties=[saw_two], finished=at_end)
    states = reachable(built)
    # x in 0..3 while waiting; done having seen 2 (x then 2 or 3) or 3 (x then 3)
    assert len(states) == 4 + 2 + 1
    result = Checker(built).run()
    assert result.deadlock is None  # the ends are terminal
    (violation,) = result.violations  # the waiter may look only once x is 3
    assert [s.label for s in violation.trace.steps[1:]] == [
        "tick()",
        "tick()",
        "tick()",
        "waiter: look(x=3)",
    ]


def test_a_branch_to_an_unknown_location_is_refused():
    model, x = counter_model()
    ext = Extension(model)
    p = Process("p", ends=("done",))
    p.at("1").append(Branch("go", (), and_(), "nowhere"))
    ext.program_counter(p)
    with pytest.raises(ModelError, match="unknown step 'nowhere'"):
        ext.build([p], keep=lambda i: True, fair=False)
