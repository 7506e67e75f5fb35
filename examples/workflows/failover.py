"""Failover that waits for the Updating state to end: PASSES (exit 0).

The runbook promotes the replica in eu-west-1 and waits until DescribeKey shows the *old* primary
in us-east-1 as an Enabled REPLICA. Both keys of the pair leave Updating together
(CompleteUpdate, §3.3), and during Updating every view of us-east-1 has KeyState Updating, so no
view the documents allow (not even the both-replicas one) ends the wait early. Then
ScheduleKeyDeletion on the old primary, now an Enabled replica, succeeds (§4: allowed when
Enabled) and the runbook checks that eu-west-1 is the primary and Enabled. Every property holds:
its checks, no unexpected error, and it finishes (CompleteUpdate is a fair environment step).

It also passes with a concurrent application that encrypts in both Regions and stops when a
key is refused (``--others examples/workflows/encrypt_app.py``). With ``--others any`` it does
not: in 2 steps another actor's UpdatePrimaryRegion comes first and the runbook's own call is
refused; in 6 steps another actor schedules the deletion of the key in eu-west-1 and the final
check fails.
"""

from mrkcheck import Workflow, key_with_replicas, workflow

START = key_with_replicas("us-east-1", "eu-west-1")


@workflow(start=START)
def failover(w: Workflow) -> None:
    w.call("UpdatePrimaryRegion", r="us-east-1", primary="eu-west-1")
    w.wait("us-east-1", until=lambda v: v.key_type == "REPLICA" and v.enabled)
    w.call("ScheduleKeyDeletion", r="us-east-1")
    w.check(
        "eu-west-1",
        lambda v: v.key_type == "PRIMARY" and v.enabled,
        "after failover eu-west-1 is the Enabled primary",
    )
