"""Failover watched from a third replica: CAUGHT (exit 12).

The runbook promotes eu-west-1, then watches the replica in ap-southeast-2 until its DescribeKey
names eu-west-1 as the PrimaryKey, and takes that as "the failover is over": it checks that the
new primary is Enabled. But the key in ap-southeast-2 names the new primary as soon as the roles
swap (§3.3, Q8: at the call), while both keys of the pair are still Updating; replicas outside the
pair may name either primary until then (§6). ``failover_watch_replica.assertions`` is violated in
3 steps, the last being the check that sees eu-west-1 Updating. Wait on the keys of the pair
instead (failover.py).
"""

from mrkcheck import Workflow, key_with_replicas, workflow


@workflow(start=key_with_replicas("us-east-1", "eu-west-1", "ap-southeast-2"))
def failover_watch_replica(w: Workflow) -> None:
    w.call("UpdatePrimaryRegion", r="us-east-1", primary="eu-west-1")
    w.wait("ap-southeast-2", until=lambda v: v.primary_region == "eu-west-1")
    w.check("eu-west-1", lambda v: v.enabled, "the new primary is Enabled")
