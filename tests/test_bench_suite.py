"""The benchmark suite's measurement works (the suite itself is run by hand, once: it takes
minutes): one measured check of a small instance reports the peer table's counts, and the
report renders its rows."""

import sys

import pytest

from benchmarks import bench_all


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self")
def test_one_measured_check_has_the_peer_counts():
    row = bench_all.measure(
        "peer 3x1", ["peer", "--regions", "3", "--no-deadlock"], True, "vectorised"
    )
    assert (row["distinct"], row["generated"], row["depth"], row["exit"]) == (491, 2808, 14, 0)
    assert 0 <= row["search_cpu_s"] <= row["check_cpu_s"] <= row["process_cpu_s"]
    text = bench_all.markdown([row], [], {"date": "d", "cpus": 2, "load": "l", "python": "3"})
    assert "| peer 3x1 | vectorised | yes | 491 | 2,808 | 14 |" in text


@pytest.mark.parametrize("backend", ["explicit", "vectorised"])
def test_allocated_memory_is_measured_in_the_search_loop(backend):
    """The exact measure (tracemalloc, in a process of its own) sees the search loop of either
    backend, and at its peak the loop holds at least every distinct state's 8-byte key."""
    argv = ["peer", "--regions", "3", "--no-deadlock", "--backend", backend, "--no-liveness"]
    allocated = bench_all.run_child("--allocated", argv)[3]["allocated"]
    assert allocated >= 2_697 * 8  # the peer model's 2,697 states on 3 Regions, unreduced
