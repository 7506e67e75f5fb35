"""Golden state counts of the KMS standard instances (also in the README's table).

They change only when the semantics change, and then on purpose: update the README with them.
"""

import pytest

from mrkcheck.check.explicit import check
from mrkcheck.model.kms import build

STANDARD = [
    # (id, options, symmetry, distinct, generated, depth)
    ("3x1", {}, False, 20_940, 225_940, 15),
    ("3x1-sym", {}, True, 3_748, 40_400, 15),
    ("2x1", {"regions": 2}, False, 1_090, 7_949, 11),
]

# 15-40 s each on the CI machine: `pytest -m slow` checks them.
SLOW = [
    ("4x1", {"regions": 4}, False, 404_126, 5_727_633, 19),
    ("5x1-sym", {"regions": 5}, True, 92_804, 1_634_084, 23),
    (
        "3x2-sym",
        {"regions": 3, "key_sets": 2, "origins": "AWS_KMS", "max_versions": 1},
        True,
        946_910,
        18_295_231,
        23,
    ),
]


def _check(options, symmetry, distinct, generated, depth):
    result = check(build(**options), symmetry=symmetry)
    s = result.stats
    assert (s.distinct, s.generated, s.depth) == (distinct, generated, depth)
    assert result.complete and result.violations == [] and result.deadlock is None


@pytest.mark.parametrize(
    ("name", "options", "symmetry", "distinct", "generated", "depth"), STANDARD
)
def test_standard_instance(name, options, symmetry, distinct, generated, depth):
    _check(options, symmetry, distinct, generated, depth)


@pytest.mark.slow
@pytest.mark.parametrize(("name", "options", "symmetry", "distinct", "generated", "depth"), SLOW)
def test_standard_instance_slow(name, options, symmetry, distinct, generated, depth):
    _check(options, symmetry, distinct, generated, depth)


def test_symmetry_with_two_partitions_only_swaps_within_a_partition():
    plain = check(build(regions=4, partitions=2), symmetry=False).stats.distinct
    reduced = check(build(regions=4, partitions=2), symmetry=True).stats.distinct
    assert reduced < plain
    # Swapping Regions across partitions would be wrong: replication cannot cross them.
    assert (
        check(build(regions=2, partitions=2), symmetry=True).stats.distinct
        == check(build(regions=2, partitions=2), symmetry=False).stats.distinct
    )


def test_hash_seed_does_not_change_results(tmp_path):
    """Same statistics and byte-identical counterexample traces under two PYTHONHASHSEEDs."""
    import os
    import subprocess
    import sys

    outputs = []
    for seed in ("0", "12345"):
        out = tmp_path / seed
        env = {**os.environ, "PYTHONHASHSEED": seed}
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "mrkcheck",
                "check",
                "--mutant",
                "promote_before_demote",
                "--json",
                "-",
                "--out",
                str(out),
            ],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        assert proc.returncode == 12, proc.stderr
        import json

        summary = json.loads(proc.stdout)
        summary["stats"].pop("seconds")
        summary.pop("traces")
        files = {p.name: p.read_bytes() for p in sorted(out.iterdir())}
        outputs.append((summary, files))
    assert outputs[0] == outputs[1]
    assert len(outputs[0][1]) >= 2
