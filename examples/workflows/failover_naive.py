"""Failover without waiting for the Updating state to end: CAUGHT (exit 12).

The runbook promotes the replica in eu-west-1, waits until DescribeKey shows it as PRIMARY, then
schedules the deletion of the old primary in us-east-1. mrkcheck finds, in 3 steps, that the wait
can end while both keys are still Updating: the promoted key already shows PRIMARY (§3.3: the
roles swap when UpdatePrimaryRegion is called), and ScheduleKeyDeletion on a key in Updating fails
with KMSInvalidStateException (§4, footnote 15). Property ``failover.no_unexpected_failure`` is
violated; the counterexample's last step is the failing call::

    1  failover: UpdatePrimaryRegion(s=k1, r=us-east-1, primary=eu-west-1, at=1)
    2  failover: DescribeKey(s=k1, r=eu-west-1, saw=PRIMARY/Updating, at=2)
    3  failover: ScheduleKeyDeletion(s=k1, r=us-east-1, at=3, error=KMSInvalidStateException)

The fix (failover.py) waits for the *old* primary to be an Enabled replica.
"""

from mrkcheck import Workflow, key_with_replicas, workflow

START = key_with_replicas("us-east-1", "eu-west-1")


@workflow(start=START)
def failover(w: Workflow) -> None:
    w.call("UpdatePrimaryRegion", r="us-east-1", primary="eu-west-1")
    w.wait("eu-west-1", until=lambda v: v.key_type == "PRIMARY")
    w.call("ScheduleKeyDeletion", r="us-east-1")
