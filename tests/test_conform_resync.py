"""Resynchronisation must not make false alarms: after an endpoint's divergence the run goes on
only from a state that agrees with what the endpoint showed (or the key set is retired).

Both cases were found against MiniStack 1.5.33 (docs/conformance.md): each endpoint below is
the model's own adapter with that one divergence added, so every divergence after it would be a
false alarm of mrkcheck."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

pytest.importorskip("botocore")

from test_conform import _call  # noqa: E402

from mrkcheck.traces import conform  # noqa: E402
from mrkcheck.traces.conform_fake import model_clients  # noqa: E402


def _run(patch: Any, calls: list[conform.Call]) -> conform.Run:
    @contextmanager
    def open_clients(regions: tuple[str, ...], settings: conform.Settings) -> Iterator[Any]:
        yield patch(model_clients(conform.conform_model(settings)))

    return conform.Driver(open_clients).run(
        "t", conform.Settings(regions="3", key_sets=1), calls, 0
    )


def _hide_pending_replicas(clients: dict[str, Any]) -> dict[str, Any]:
    """Every key's ReplicaKeys leaves out replicas pending deletion (as MiniStack does)."""
    describe = {region: client.describe_key for region, client in clients.items()}

    def pending(arn: str, region: str) -> bool:
        return describe[region](KeyId=arn)["KeyMetadata"]["KeyState"] == "PendingDeletion"

    for client in clients.values():

        def describe_key(KeyId: str, _original: Any = client.describe_key) -> Any:  # noqa: N803
            answer = _original(KeyId=KeyId)
            config = answer["KeyMetadata"].get("MultiRegionConfiguration") or {}
            if config.get("ReplicaKeys"):
                config["ReplicaKeys"] = [
                    r for r in config["ReplicaKeys"] if not pending(r["Arn"], r["Region"])
                ]
            return answer

        client.describe_key = describe_key
    return clients


def test_a_display_divergence_is_followed_from_a_state_that_keeps_the_keys():
    """The primary's list hides a replica pending deletion: a state in which that replica is
    already deleted explains the lists, but going on from it predicted NotFound for the replica
    the endpoint still has (a false alarm). The run goes on from the state that differs only in
    the list, and the replica's DisableKey is predicted KMSInvalidState, as the endpoint says."""
    run = _run(
        _hide_pending_replicas,
        [
            _call("CreateKey(s=k1, r=us-east-1, origin=AWS_KMS)"),
            _call("ReplicateKey(s=k1, r=us-east-1, replica=eu-west-1)"),
            _call("ReplicateKey(s=k1, r=us-east-1, replica=ap-southeast-2)"),
            _call("ScheduleKeyDeletion(s=k1, r=ap-southeast-2)"),
            _call("DisableKey(s=k1, r=ap-southeast-2)"),
        ],
    )
    lines = [d.line() for d in run.divergences]
    assert lines and all("DescribeKey differs: ReplicaRegions (" in line for line in lines), lines
    assert run.retired == 0 and run.calls == 5
    assert run.scenario.value("key_state", "k1", "ap-southeast-2") == "PendingDeletion"


def _accept_any_replica_region(clients: dict[str, Any]) -> dict[str, Any]:
    """ReplicateKey to a Region name that is not one answers success and changes nothing."""
    for client in clients.values():

        def replicate_key(_original: Any = client.replicate_key, **kwargs: Any) -> Any:
            if kwargs.get("ReplicaRegion") not in clients:
                meta = {"KeyId": "mrk-" + "0" * 32, "KeyState": "Enabled"}
                return {"ReplicaKeyMetadata": meta, "ReplicaPolicy": "{}", "ReplicaTags": []}
            return _original(**kwargs)

        client.replicate_key = replicate_key
    return clients


@pytest.mark.parametrize("probe", ["malformed-region", "unknown-region"])
def test_an_accepted_replica_region_probe_retires_the_key_set(probe):
    """The endpoint made (or claims) a replica in a Region the model does not have: applying the
    call to the model's own Region would report the missing replica as a second divergence."""
    run = _run(
        _accept_any_replica_region,
        [
            _call("CreateKey(s=k1, r=us-east-1, origin=AWS_KMS)"),
            _call("ReplicateKey(s=k1, r=us-east-1, replica=eu-west-1)", probe),
            _call("CreateKey(s=k1, r=us-east-1, origin=AWS_KMS)"),
            _call("ReplicateKey(s=k1, r=us-east-1, replica=eu-west-1)"),
        ],
    )
    assert [d.kind for d in run.divergences] == ["error"], [d.line() for d in run.divergences]
    assert run.retired == 1
