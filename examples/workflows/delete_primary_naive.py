"""Delete the primary but keep the replica, naively: CAUGHT (exit 13, a liveness violation).

ScheduleKeyDeletion on a primary that still has replicas puts it in PendingReplicaDeletion, where
it waits for its replicas to be deleted (§5 rule 3): with a replica that is to be kept, that is for
ever. The runbook waits for the old primary to show PendingDeletion, which never happens:
``delete_primary_naive.finishes`` is violated by a lasso in which the workflow polls
DescribeKey for ever while no environment step can change the key. Safety holds (no call fails).
The documented way is delete_primary.py: UpdatePrimaryRegion first (§5 rule 8).
"""

from mrkcheck import Workflow, key_with_replicas, workflow

START = key_with_replicas("us-east-1", "eu-west-1")


@workflow(start=START)
def delete_primary_naive(w: Workflow) -> None:
    w.call("ScheduleKeyDeletion", r="us-east-1")
    w.wait("us-east-1", until=lambda v: v.key_state == "PendingDeletion")
