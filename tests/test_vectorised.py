"""The vectorised backend against the explicit engine: the same search, so the same numbers.

The explicit engine is the reference (its counts equal TLC's): on every instance here the
vectorised backend must give the same distinct/generated/depth, the same states per level, the
same successors per action, the same verdicts and the very same traces (its order of discovery
is the explicit engine's), with and without symmetry, on mutants and when a limit cuts the
search.
"""

import json
from enum import IntEnum

import numpy as np
import pytest
from test_state_counts import SLOW, STANDARD

from mrkcheck.check import explicit, packing, vectorised
from mrkcheck.check.checker import Checker
from mrkcheck.check.compile import EvaluationError
from mrkcheck.check.explicit import Limits, explore_graph, reachable
from mrkcheck.check.packing import key_canonicalizer, layout_of
from mrkcheck.check.result import INTERRUPTED
from mrkcheck.check.stategraph import StateGraph
from mrkcheck.check.symmetry import canonicalizer
from mrkcheck.check.vector_compile import compile_vector
from mrkcheck.cli import main
from mrkcheck.examples import twophase
from mrkcheck.lang.expr import forall
from mrkcheck.lang.model import ActionProperty, ModelBuilder, ModelError, Transition
from mrkcheck.model import kms
from mrkcheck.model.mutants import MUTANTS
from mrkcheck.traces.replay import replay


def same_search(model, symmetry=False, **options):
    """Check with both engines and assert that everything they report agrees."""
    a = explicit.check(model, symmetry=symmetry, **options)
    b = vectorised.check(model, symmetry=symmetry, **options)
    assert b.engine == "vectorised"
    for field in ("distinct", "generated", "depth", "levels", "fired", "found", "queue"):
        assert getattr(b.stats, field) == getattr(a.stats, field), field
    assert (b.stopped, b.complete, b.exit_code) == (a.stopped, a.complete, a.exit_code)
    assert [r.status for r in b.properties] == [r.status for r in a.properties]
    for x, y in zip(a.properties, b.properties, strict=True):
        assert y.trace == x.trace, x.name
    assert b.deadlock == a.deadlock
    assert b.never_enabled == a.never_enabled
    return b


@pytest.mark.parametrize(
    ("make", "symmetry", "counts"),
    [
        (lambda: twophase.build(3), False, (288, 1146, 11)),
        (lambda: twophase.build(5), False, (8832, 58146, 17)),
        (lambda: twophase.build(5), True, (314, 2048, 17)),
        (lambda: twophase.build(3), True, (80, 318, 11)),
        (lambda: kms.build(regions=2), False, (1090, 7949, 11)),
        (lambda: kms.build(), False, (20940, 225940, 15)),
        (lambda: kms.build(), True, (3748, 40400, 15)),
    ],
    ids=["twophase3", "twophase5", "twophase5-sym", "twophase3-sym", "kms2", "kms3", "kms3-sym"],
)
def test_same_counts_verdicts_and_traces(make, symmetry, counts):
    result = same_search(make(), symmetry, stop_when_all_violated=False)
    stats = result.stats
    assert (stats.distinct, stats.generated, stats.depth) == counts


def test_two_symmetric_universes_use_the_orbit_minimum_on_keys():
    """Key sets and Regions both symmetric: the least key over the whole group, which must be
    the least tuple the per-state canonicaliser picks, state by state."""
    model = kms.build(regions=2, key_sets=2, origins="AWS_KMS", max_versions=1)
    layout = layout_of(model, symmetry=True)
    assert not layout.column_classes  # two universes: no column sorting
    assert_same_canonical_keys(model, layout, explore_graph(model, max_states=4000).states)
    same_search(model, symmetry=True, stop_when_all_violated=False)


def test_column_sorting_on_keys_picks_the_per_state_representative():
    model = kms.build(regions=3, partitions="aws,aws,aws-cn")
    layout = layout_of(model, symmetry=True)
    assert [len(members) for members in layout.column_classes] == [2]  # aws-cn is alone
    assert_same_canonical_keys(model, layout, list(reachable(model)))


def assert_same_canonical_keys(model, layout, states):
    canon = canonicalizer(model)
    words = layout.split(layout.pack(states))
    keys = layout.combine(key_canonicalizer(model, layout)(words))
    expected = layout.pack([canon(s) for s in states])
    assert np.array_equal(keys, expected)
    assert [layout.unpack(k) for k in expected[:50]] == [canon(s) for s in states[:50]]


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.name)
def test_mutants_are_caught_alike(mutant):
    """Stopping when every selected property is violated cuts the level at the same parent,
    so even the statistics of the cut search agree; the trace is a run of the mutant."""
    model = mutant.build().select([mutant.breaks, *mutant.also])
    result = same_search(model)
    trace = result.result(mutant.breaks).trace
    if model.get_property(mutant.breaks).kind != "eventually":
        assert len(trace) == mutant.shortest
        assert mutant.breaks in replay(model, trace).violates


@pytest.mark.parametrize(
    "limits",
    [Limits(max_states=5000), Limits(max_states=1), Limits(max_depth=6)],
    ids=["max_states", "max_states_1", "max_depth"],
)
def test_limits_cut_at_the_same_state(limits):
    result = same_search(kms.build(), limits=limits)
    assert result.exit_code == 15


def counter(stuck: bool):
    m = ModelBuilder("counter")
    n = m.variable("n", range(0, 4), init=0).ref

    @m.action()
    def Inc():
        return Transition(guards=[n.lt(3)], effects=[(n, n + 1)])

    if not stuck:

        @m.action()
        def Reset():
            return Transition(guards=[n.eq(3)], effects=[(n, 0)])

    return m.build()


def test_deadlock_and_its_trace():
    result = same_search(counter(stuck=True))
    assert result.exit_code == 11 and len(result.deadlock) == 3
    assert same_search(counter(stuck=False)).deadlock is None
    assert same_search(counter(stuck=True), deadlock=False).exit_code == 0


def test_value_outside_the_domain_is_the_same_evaluation_error():
    m = ModelBuilder("x")
    v = m.variable("v", range(0, 3)).ref

    @m.action()
    def Up():
        return Transition(effects=[(v, v + 1)])

    model = m.build()
    with pytest.raises(EvaluationError) as want:
        explicit.check(model)
    with pytest.raises(EvaluationError) as got:
        vectorised.check(model)
    assert str(got.value) == str(want.value) == "Up() would set v to 3, outside its domain"


class Mode(IntEnum):
    low = -2
    mid = -1
    high = 0


def test_booleans_negative_domains_and_two_words():
    """Booleans under ~, a domain below zero, arithmetic, and a state wider than 64 bits."""
    m = ModelBuilder("wide")
    cells = m.universe("C", [f"c{i}" for i in range(24)])
    bit = m.variable("bit", bool, over=[cells], init=False)
    val = m.variable("val", range(0, 7), over=[cells], init=0)
    mode = m.variable("mode", Mode, init=Mode.low).ref

    names = cells.elements

    @m.action(c=cells)
    def Flip(c):
        after = names[(names.index(c) + 1) % len(names)]
        return Transition(
            guards=[~bit[c] | bit[after], val[c].lt(6)],
            effects=[(bit[c], ~bit[c]), (val[c], val[c] + 1)],
        )

    @m.action()
    def Shift():
        return Transition(guards=[mode.lt(Mode.high)], effects=[(mode, mode + 1)])

    m.invariant("small", val["c0"].le(5) | mode.eq(Mode.low))
    model = m.build()
    assert layout_of(model, False).words == 2
    same_search(model, limits=Limits(max_states=3000))


def test_checker_backend_option_and_liveness():
    model = kms.build(regions=2)
    a = Checker(model).run()
    b = Checker(model).backend("vectorised").run()
    assert b.engine == "vectorised"
    assert [(r.name, r.status) for r in b.properties] == [(r.name, r.status) for r in a.properties]
    with pytest.raises(ModelError, match="did you mean 'vectorised'"):
        Checker(model).backend("vectorized")


def test_progress_and_interrupt(monkeypatch):
    """Progress is reported between chunks; Ctrl-C keeps the statistics found so far."""
    monkeypatch.setattr(vectorised, "PROGRESS_INTERVAL", 0.0)
    monkeypatch.setattr(vectorised, "CHUNK", 64)
    seen = []

    def progress(stats):
        seen.append(stats.distinct)
        if len(seen) == 5:
            raise KeyboardInterrupt

    result = vectorised.check(kms.build(regions=2), progress=progress)
    assert result.stopped == INTERRUPTED and result.exit_code == 130
    assert seen == sorted(seen) and 0 < result.stats.distinct < 1090


def test_small_chunks_change_nothing(monkeypatch):
    """Chunks are cut anywhere in a level: the order of discovery must not depend on it."""
    monkeypatch.setattr(vectorised, "CHUNK", 7)
    same_search(kms.build(regions=2), symmetry=True, stop_when_all_violated=False)


def test_cli_backend(capsys):
    argv = ["check", "kms", "--regions", "2", "--backend", "vectorised", "--json", "-"]
    assert main(argv) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["engine"] == "vectorised"
    assert (summary["stats"]["distinct"], summary["stats"]["generated"]) == (1090, 7949)
    assert main(["check", "kms", "--backend", "numpy"]) == 150
    assert "--backend: unknown choice 'numpy'" in capsys.readouterr().err


def test_violated_in_the_initial_state_stops_after_the_first_parent():
    m = ModelBuilder("bad_start")
    n = m.variable("n", range(0, 4), init=0).ref

    @m.action()
    def Inc():
        return Transition(guards=[n.lt(3)], effects=[(n, n + 1)])

    m.invariant("positive", n.gt(0))
    result = same_search(m.build())
    assert result.stopped == "all_violated" and len(result.result("positive").trace) == 0


@pytest.mark.parametrize("stop", [False, True], ids=["complete", "stopped_early"])
def test_recorded_state_graph_is_the_explicit_one(stop):
    """Liveness reads the graph the safety search records: the vectorised backend records the
    same states, numbers, tree links and edges (also when it stops once all is violated)."""
    mutant = MUTANTS[0]
    model = mutant.build(regions=2).select([mutant.breaks]) if stop else kms.build(regions=2)
    graphs = []
    for engine in (explicit, vectorised):
        graph = StateGraph(model)
        engine.check(model, record=graph, stop_when_all_violated=stop)
        graphs.append(graph)
    a, b = graphs
    assert b.states == a.states and b.index == a.index
    for column in ("parent", "via", "start", "target", "instance"):
        assert getattr(b, column) == getattr(a, column), column
    assert b.expanded == a.expanded and (b.expanded < len(b.states)) == stop


def test_liveness_after_the_vectorised_backend():
    model = kms.build(regions=2)
    a = Checker(model).run()
    b = Checker(model).backend("vectorised").run()
    assert [(r.name, r.status) for r in b.properties] == [(r.name, r.status) for r in a.properties]
    for x, y in zip(a.properties, b.properties, strict=True):
        assert y.trace == x.trace, x.name


def cells_model(columns: int, width: int, rows: int = 1):
    """Symmetric cells (and, with ``rows`` > 1, symmetric rows too) of a wide domain, so that
    the key takes two words: column sorting and the orbit minimum across words."""
    m = ModelBuilder("cells")
    cols = m.universe("Col", [f"c{i}" for i in range(columns)], symmetric=True)
    lines = m.universe("Row", [f"r{i}" for i in range(rows)], symmetric=rows > 1)
    val = m.variable("val", range(0, width), over=[lines, cols], init=0)
    flag = m.variable("flag", bool, over=[lines, cols], init=False)
    one = m.variable("one", range(3, 4), init=3).ref  # a domain of one value: no bits at all

    @m.action(r=lines, c=cols)
    def Inc(r, c):
        return Transition(
            guards=[val[r, c].lt(2), one.eq(3)],
            effects=[(val[r, c], val[r, c] + 1), (flag[r, c], ~flag[r, c])],
        )

    m.invariant("small", forall(lines, lambda r: forall(cols, lambda c: val[r, c].le(2))))
    return m.build()


@pytest.mark.parametrize(
    ("columns", "width", "rows"), [(12, 64, 1), (3, 2048, 2)], ids=["columns", "orbit"]
)
def test_symmetry_on_two_word_keys(columns, width, rows):
    model = cells_model(columns, width, rows)
    layout = layout_of(model, symmetry=True)
    assert layout.words == 2 and bool(layout.column_classes) == (rows == 1)
    states = explore_graph(model, max_states=3000).states
    assert_same_canonical_keys(model, layout, states)
    same_search(model, symmetry=True, limits=Limits(max_states=1500))


def test_small_piece_tables_pick_the_same_representative(monkeypatch):
    """A large group's orbit minimum reads 8-bit pieces instead of 12-bit ones, and many keys
    are canonicalised a batch at a time: the same keys."""
    monkeypatch.setattr(packing, "TABLE_BYTES", 0)
    monkeypatch.setattr(packing, "BATCH", 64)
    model = kms.build(regions=2, key_sets=2, origins="AWS_KMS", max_versions=1)
    layout = layout_of(model, symmetry=True)
    assert_same_canonical_keys(model, layout, explore_graph(model, max_states=2000).states)
    model = cells_model(3, 2048, 2)
    layout = layout_of(model, symmetry=True)
    assert_same_canonical_keys(model, layout, explore_graph(model, max_states=1000).states)


@pytest.mark.parametrize("spare", [0, 3, 10, 16, 62])
def test_first_occurrences_are_np_unique(spare):
    """Distinct keys and first positions, by the packed sort (positions in the spare bits, in
    blocks when they do not fit there) or, when the blocks would be too many or too small, by
    the least position of each run: np.unique's; the same when the keys may be sorted in place."""
    rng = np.random.default_rng(spare)
    for n in (1, 5, 1000, 70_000, 200_000):
        keys = rng.integers(0, max(n // 3, 2), n).astype(np.uint64) << np.uint64(spare)
        keys *= np.uint64(0x9E37_79B9) if spare < 16 else np.uint64(1)  # spread, low bits zero
        expected = np.unique(keys, return_index=True)
        got = vectorised._first_occurrences(keys, spare)
        assert all(np.array_equal(a, b) for a, b in zip(got, expected, strict=True)), n
        consumed = vectorised._first_occurrences(keys.copy(), spare, consume=True)
        assert all(np.array_equal(a, b) for a, b in zip(consumed, expected, strict=True)), n


def counter_with_a_stutter():
    m = ModelBuilder("stutter")
    n = m.variable("n", range(0, 4), init=0).ref
    flag = m.variable("flag", bool, init=False).ref

    @m.action()
    def Inc():
        return Transition(guards=[n.lt(3)], effects=[(n, n + 1)])

    @m.action()
    def Flag():
        return Transition(guards=[n.eq(2)], effects=[(flag, True)])

    m.add_property(ActionProperty("never_decreases", lambda inst: n.le(n.next)))
    m.add_property(ActionProperty("flag_stays", lambda inst: flag.implies(flag.next)))
    m.add_property(ActionProperty("flag_never_set", lambda inst: flag.next.eq(False)))
    return m.build()


def test_frame_conditions_fold_away():
    """An action property about slots an action does not assign holds on its every successor
    (``n <= n'`` with ``n' = n``): the generated code does not evaluate it there, and evaluates
    it where the action does assign them; a constant effect compared with a constant is a
    constant too (``flag' = False`` after ``flag' := True``: violated by every successor). The
    search agrees with the explicit engine, verdicts and traces."""
    model = counter_with_a_stutter()
    code = compile_vector(model, layout_of(model, symmetry=False))
    fire = {f.split("(")[0]: f for f in code.source.split("def ")[1:]}
    assert "return [w0], [(2, ~_none)]" in fire["fire_1"]  # Flag: n unchanged, flag := True
    assert "(0, ~" in fire["fire_0"] and "(1, ~" not in fire["fire_0"]  # Inc: n changes
    assert "c[0][idx] <= c[0][idx]" not in code.source
    result = same_search(model, stop_when_all_violated=False)
    assert [r.status.value for r in result.properties] == ["holds", "holds", "violated"]


GOLDEN = {row[0]: row[1:] for row in STANDARD + SLOW}  # the explicit engine's golden counts


@pytest.mark.parametrize("name", ["4x1", "5x1-sym", "3x2-sym"])
def test_golden_counts_of_the_standard_instances(name):
    """The benchmark's instances (the largest, 3 Regions x 2 key sets with symmetry, with chunks
    of more successors than the key's spare bits can number): the explicit engine's counts."""
    options, symmetry, distinct, generated, depth = GOLDEN[name]
    result = vectorised.check(kms.build(**options), symmetry=symmetry)
    stats = result.stats
    assert (stats.distinct, stats.generated, stats.depth) == (distinct, generated, depth)
    assert result.complete and result.violations == [] and result.deadlock is None


@pytest.mark.parametrize(
    ("bound", "n"), [(1, 1), (7, 100), (8192, 155_000), (1 << 15, 1 << 17), (1 << 15, 1 << 18)]
)
def test_stable_order_is_the_stable_argsort(bound, n):
    """Successors are put in (parent, instance) order by a packed sort (or, when parent and
    position do not fit 32 bits, the stable argsort): the stable argsort's permutation."""
    values = np.random.default_rng(n).integers(0, bound, n).astype(np.int16)
    expected = np.argsort(values, kind="stable")
    assert np.array_equal(vectorised._stable_order(values, bound), expected)
