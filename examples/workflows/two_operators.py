"""Two operators promote different replicas at the same time: CAUGHT (exit 12).

Both runbooks call UpdatePrimaryRegion on the primary in us-east-1, one to promote eu-west-1, the
other ap-southeast-2. Whichever call comes second finds that us-east-1 is no longer the primary
(the roles swap at the call, §3.3, Q8) and is refused with UnsupportedOperationException (§3.3.2:
KeyId must name the current primary; Q2 picks the exception): ``promote_ap.no_unexpected_failure``
and ``promote_eu.no_unexpected_failure`` are each violated in 2 steps. Only one primary Region can
be chosen at a time; the operators must agree first. (``mrkcheck run --against-mutant none`` shows
the same refusal once the first update has completed.)
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
