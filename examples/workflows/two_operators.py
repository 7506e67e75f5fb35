"""Two operators promote different replicas at the same time: CAUGHT (exit 12).

Both runbooks call UpdatePrimaryRegion on the primary in us-east-1, one to promote eu-west-1, the
other ap-southeast-2. Whichever call comes second finds us-east-1 already Updating (and already a
replica, §3.3: the roles swap at the call) and is refused (KMSInvalidStateException, §4 footnote
15): ``promote_ap.no_unexpected_failure`` (or ``promote_eu``'s) is violated in 2 steps. Only one
primary Region can be chosen at a time; the operators must agree first.
"""

from mrkcheck import Workflow, key_with_replicas, workflow

START = key_with_replicas("us-east-1", "eu-west-1", "ap-southeast-2")


def _promote(w: Workflow, region: str) -> None:
    w.call("UpdatePrimaryRegion", r="us-east-1", primary=region)
    w.wait(region, until=lambda v: v.key_type == "PRIMARY" and v.enabled)


@workflow(start=START)
def promote_eu(w: Workflow) -> None:
    _promote(w, "eu-west-1")


@workflow(start=START)
def promote_ap(w: Workflow) -> None:
    _promote(w, "ap-southeast-2")
