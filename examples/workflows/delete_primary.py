"""Delete the primary but keep the replica, the documented way: PASSES (exit 0).

To delete a primary but keep its replicas, call UpdatePrimaryRegion first, then delete the demoted
key as a replica (§5 rule 8; seed 000): the runbook promotes the replica in eu-west-1, waits until
the old primary is an Enabled REPLICA (the Updating state has ended for both keys), schedules its
deletion (a replica goes to PendingDeletion at once, §5 rule 2), waits until DescribeKey shows it
PendingDeletion *or gone*, and checks that eu-west-1 is now the Enabled primary. Every view
DescribeKey may show is explored; every property holds.

Waiting for PendingDeletion alone does not finish: the waiting period may end (DeletionDue, §5
rule 2) before a poll sees the key, and from then on DescribeKey answers NotFoundException for
ever; mrkcheck reports that as a 5-step lasso violating ``delete_primary.finishes``.
"""

from mrkcheck import Workflow, key_with_replicas, workflow

START = key_with_replicas("us-east-1", "eu-west-1")


@workflow(start=START)
def delete_primary(w: Workflow) -> None:
    w.call("UpdatePrimaryRegion", r="us-east-1", primary="eu-west-1")
    w.wait("us-east-1", until=lambda v: v.key_type == "REPLICA" and v.enabled)
    w.call("ScheduleKeyDeletion", r="us-east-1")
    w.wait("us-east-1", until=lambda v: v.key_state == "PendingDeletion" or not v.exists)
    w.check(
        "eu-west-1",
        lambda v: v.key_type == "PRIMARY" and v.enabled,
        "the kept key in eu-west-1 is the Enabled primary",
    )
