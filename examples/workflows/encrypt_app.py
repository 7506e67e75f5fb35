"""An application encrypting with the key in both Regions: a concurrent actor for --others.

Not a runbook under test: ``mrkcheck check --workflow examples/workflows/failover.py --others
examples/workflows/encrypt_app.py`` runs it alongside the failover (its own properties are not
checked). Encrypt is allowed while a key is Updating (§4), so it does not disturb the failover; a
refused Encrypt (the old primary, once pending deletion) ends the application.
"""

from mrkcheck import END, Workflow, key_with_replicas, workflow

START = key_with_replicas("us-east-1", "eu-west-1")


@workflow(start=START)
def encrypt_app(w: Workflow) -> None:
    for region in ("us-east-1", "eu-west-1"):
        w.call("Encrypt", r=region, on={"KMSInvalidStateException": END})
