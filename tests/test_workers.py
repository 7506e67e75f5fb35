"""``--workers`` and ``--cluster``: the partitioned search (mrkcheck/check/parallel.py) gives the
serial engine's counts, per-action coverage, levels, verdicts, traces and deadlocks, compared here
with the serial engine itself on the standard instance, the peer model and seeded bugs."""

from __future__ import annotations

import logging
import signal
import subprocess
import sys

import pytest
from test_independence import counters
from test_interrupts import _assert_interrupted, _interrupt_after

from mrkcheck.check.checker import Checker
from mrkcheck.examples.mrk_peer import build as peer
from mrkcheck.examples.twophase import build as twophase
from mrkcheck.lang.model import Model
from mrkcheck.model.kms import build as kms
from mrkcheck.registry import model_builder


def _same(model: Model, partitioned: Checker, **config) -> None:
    serial = Checker(model).liveness(False).independence(False)
    for name, value in config.items():
        serial = getattr(serial, name)(value)
        partitioned = getattr(partitioned, name)(value)
    a, b = serial.run(), partitioned.liveness(False).independence(False).run()
    assert b.complete == a.complete and b.stopped == a.stopped
    for field in ("distinct", "generated", "depth", "levels", "fired", "found"):
        assert getattr(b.stats, field) == getattr(a.stats, field), field
    assert [(r.name, r.status) for r in b.properties] == [(r.name, r.status) for r in a.properties]
    assert [r.trace for r in b.properties] == [r.trace for r in a.properties]
    assert b.deadlock == a.deadlock
    assert b.never_enabled == a.never_enabled


def two(model: Model) -> Checker:
    return Checker(model).workers(2)


def test_kms_standard_instance():
    _same(kms(), two(kms()))


@pytest.mark.parametrize("mutant", ["promote_before_demote", "replicate_overwrites"])
def test_kms_mutants_same_traces(mutant):
    model = model_builder("kms", mutant)(regions=2)
    _same(model, two(model))


def test_peer_and_its_mutant_with_three_processes():
    for model in (peer(), model_builder("peer", "update_without_demotion")()):
        _same(model, Checker(model).workers(3), symmetry=True)


def test_deadlock_and_goal_free_toy_and_twophase():
    _same(counters(), two(counters()))
    _same(twophase(4), two(twophase(4)))
    bug = model_builder("twophase", "early_commit")(rm=3)
    _same(bug, two(bug))


def test_liveness_after_a_partitioned_search():
    model = kms(regions=2)
    a = Checker(model).run()
    partitioned = Checker(model).workers(2)
    assert "explores the state graph again" in partitioned.liveness_note
    assert partitioned.liveness(False).liveness_note is None
    b = partitioned.run()
    assert [(r.name, r.status) for r in b.properties] == [(r.name, r.status) for r in a.properties]


def test_max_depth_is_exact():
    a = Checker(kms(regions=2)).liveness(False).limits(max_depth=7).run()
    b = two(kms(regions=2)).liveness(False).limits(max_depth=7).run()
    assert (b.stopped, b.stats.distinct, b.stats.generated) == (
        a.stopped,
        a.stats.distinct,
        a.stats.generated,
    )


@pytest.fixture(scope="module")
def local_cluster():
    """A Dask cluster of two worker processes on 127.0.0.1, started and stopped here."""
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        silence_logs=logging.ERROR,
    )
    yield cluster.scheduler_address
    cluster.close()


def test_cluster_same_counts_and_traces(local_cluster):
    for model in (peer(), model_builder("kms", "promote_before_demote")(regions=2)):
        _same(model, Checker(model).cluster(local_cluster))
    bug = model_builder("peer", "update_without_demotion")()
    _same(bug, Checker(bug).cluster(local_cluster), symmetry=True)


def test_cluster_bad_address_is_one_line():
    run = subprocess.run(
        [sys.executable, "-m", "mrkcheck", "check", "peer", "--cluster", "nowhere", "--quiet"],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 150
    assert run.stderr.strip().splitlines() == [
        "mrkcheck: --cluster: cannot reach a Dask scheduler at nowhere: "
        "missing port number in address 'nowhere'"
    ]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_partitioned_search_keeps_what_it_found(tmp_path, sig):
    args = ["check", "kms", "--regions", "4", "--no-liveness", "--workers", "2"]
    code, out, err = _interrupt_after(args, 2.5, tmp_path, sig)
    assert _assert_interrupted(code, out, err) == (
        "mrkcheck: interrupted during safety search: the results above are partial"
    )
    assert "search stopped early (interrupted)" in out


@pytest.mark.parametrize(
    ("value", "message"),
    [("0", "must be at least 1, not 0"), ("lots", "takes a whole number, not 'lots'")],
)
def test_bad_worker_count_is_one_line(value, message):
    run = subprocess.run(
        [sys.executable, "-m", "mrkcheck", "check", "peer", "--workers", value],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 150
    assert run.stderr.strip().splitlines() == [f"mrkcheck: argument --workers: {message}"]


def test_workers_with_the_vectorised_backend_is_refused_in_one_line():
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "mrkcheck",
            "check",
            "peer",
            "--workers",
            "2",
            "--backend",
            "vectorised",
        ],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 150
    [line] = run.stderr.strip().splitlines()
    assert "--workers and --cluster partition the explicit engine's search" in line
