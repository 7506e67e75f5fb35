"""Enable rotation, wait until the replica reports it, then check: PASSES (exit 0).

The same runbook as rotation_status.py, with a poll of the replica's rotation status before the
check. Sync copies the shared rotation flag to every replica (§3.9) and is a fair environment
step, so the wait ends on every fair run (``rotation_status_wait.finishes`` holds), and once the
replica shows rotation on it keeps showing it (only DisableKeyRotation, which no one calls here,
turns it off): the check holds.
"""

from mrkcheck import Workflow, key_with_replicas, workflow

START = key_with_replicas("us-east-1", "eu-west-1")


@workflow(start=START)
def rotation_status_wait(w: Workflow) -> None:
    w.call("EnableKeyRotation", r="us-east-1")
    w.wait("eu-west-1", until=lambda v: v.rotation)
    w.check("eu-west-1", lambda v: v.rotation, "the replica reports automatic rotation enabled")
