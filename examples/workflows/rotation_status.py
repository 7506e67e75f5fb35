"""Enable rotation, then check a replica's rotation status at once: CAUGHT (exit 12).

Automatic rotation is a shared property: EnableKeyRotation on the primary changes the primary's
copy, and each replica gets it only when KMS synchronises the shared properties (§2, §3.9: Sync is
an environment step that comes later). A check made right away on the replica in eu-west-1 may see
rotation still off: ``rotation_status.assertions`` is violated in 2 steps, the last being the
DescribeKey/GetKeyRotationStatus observation. rotation_status_wait.py waits for it and passes.
"""

from mrkcheck import Workflow, key_with_replicas, workflow

START = key_with_replicas("us-east-1", "eu-west-1")


@workflow(start=START)
def rotation_status(w: Workflow) -> None:
    w.call("EnableKeyRotation", r="us-east-1")
    w.check("eu-west-1", lambda v: v.rotation, "the replica reports automatic rotation enabled")
