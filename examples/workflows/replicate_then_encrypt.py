"""Replicate, then encrypt at once in the new Region: CAUGHT (exit 12).

ReplicateKey returns while the new replica is still Creating (§3.2: the replica starts Creating;
CompleteCreate is an environment step that comes later), and a key in Creating refuses
cryptographic operations (§4 Encrypt, footnote 14: KMSInvalidStateException). mrkcheck finds it in
2 steps, the last being the failing Encrypt; ``replicate_then_encrypt.no_unexpected_failure`` is
violated. The fix is a ``w.wait("eu-west-1", until=lambda v: v.enabled)`` between the two calls.
"""

from mrkcheck import Workflow, workflow


@workflow(start=["CreateKey(r=us-east-1, origin=AWS_KMS)"])
def replicate_then_encrypt(w: Workflow) -> None:
    w.call("ReplicateKey", r="us-east-1", replica="eu-west-1")
    w.call("Encrypt", r="eu-west-1")
