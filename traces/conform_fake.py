"""A KMS "endpoint" that answers from a model: boto3-shaped clients over one :class:`Scenario`.

Why: the conformance runner must be shown to find divergences, and to find none where there are
none. Driving it against the correct model through this adapter must give no divergence; against
a mutant (e.g. ``replicate_overwrites``) it must report the seeded bug. It implements only the
client methods :mod:`mrkcheck.traces.conform_endpoint` uses, raising botocore's ``ClientError``
as a real client would.

Environment steps: like an emulator, the fake completes the quick ones (creation, update, sync,
the primary's deletion start) right after each call, and never lets a deletion come due (that
takes days on AWS). So the runner has to reconcile the model with an endpoint that is "ahead".
"""

from __future__ import annotations

import hashlib
import random
import re
from typing import Any

from mrkcheck.lang.model import Model
from mrkcheck.lang.scenario import Scenario
from mrkcheck.model.observe import describe_key, key_metadata

ACCOUNT = "111122223333"
EAGER = ("CompleteCreate", "CompleteUpdate", "Sync", "PrimaryDeletionStarts")
# What a call the model refuses without naming an exception looks like on the wire.
REFUSED_AS = {"CreateKey": "LimitExceededException", "Decrypt": "InvalidCiphertextException"}
ARN = re.compile(r"arn:aws:kms:([a-z0-9-]+):\d{12}:key/([A-Za-z0-9-]+)")
REGION = re.compile(r"([a-z]+-){2,3}\d+")  # API:ReplicateKey ReplicaRegion
DEFAULT_POLICY = '{"Version": "2012-10-17", "Statement": []}'


def _client_error(code: str, message: str, operation: str) -> Exception:
    from botocore.exceptions import ClientError

    error = {"Code": code, "Message": message}
    return ClientError({"Error": error, "ResponseMetadata": {"HTTPStatusCode": 400}}, operation)


class ModelKms:
    """The shared world behind every Region's client: one scenario, and key IDs per key set."""

    def __init__(
        self, model: Model, eager: tuple[str, ...] = EAGER, chance: float = 1.0, seed: int = 0
    ) -> None:
        self.model = model
        self.scenario = Scenario(model)
        self.eager = eager
        self.chance = chance  # probability of settling after a call (1: always)
        self.rng = random.Random(seed)
        self.key_sets = list(model.universe("KeySet").elements)
        self.ids: dict[str, str] = {}  # key set -> key ID, in creation order
        self.descriptions: dict[tuple[str, str], str] = {}  # independent property (§2)
        self.single_region: set[str] = set()  # IDs of single-Region keys (not in the model)

    def client(self, region: str) -> ModelKmsClient:
        return ModelKmsClient(self, region)

    def key_id(self, key_set: str) -> str:
        digest = hashlib.blake2b(key_set.encode(), digest_size=16).hexdigest()
        return f"mrk-{digest}"

    def arn(self, key_set: str, region: str) -> str:
        return f"arn:aws:kms:{region}:{ACCOUNT}:key/{self.ids[key_set]}"

    def key_set_of(self, key_id: str, operation: str, region: str | None = None) -> str:
        """The key set an ARN or key ID names; a malformed ARN is InvalidArn, an ARN of another
        Region than the client's, or an unknown ID, NotFound."""
        bare = key_id
        if key_id.startswith("arn:"):
            match = ARN.fullmatch(key_id)
            if match is None:
                raise _client_error("InvalidArnException", f"invalid ARN {key_id}", operation)
            if region is not None and match.group(1) != region:
                raise _client_error("NotFoundException", f"{key_id} is not in {region}", operation)
            bare = match.group(2)
        if bare in self.single_region:
            raise _client_error(
                "UnsupportedOperationException", f"{key_id} is not a multi-Region key", operation
            )
        for key_set, known in self.ids.items():
            if known == bare:
                return key_set
        raise _client_error("NotFoundException", f"Key '{key_id}' does not exist", operation)

    def call(self, operation: str, action: str, **params: str) -> None:
        """Apply the action as the model says, raising the predicted error; then settle."""
        error = self.scenario.call(action, **params)
        if error is not None:
            code = (
                REFUSED_AS.get(action, "KMSInvalidStateException") if error == "refused" else error
            )
            raise _client_error(code, f"{action} refused by the model", operation)
        if self.chance >= 1 or self.rng.random() < self.chance:
            self.settle()

    def settle(self) -> None:
        """Take the eager environment steps until none is enabled and changes anything (a
        mutant's step may be enabled and do nothing: it is not taken, or this would not end),
        never returning to a state already passed (a mutant with two primaries would have
        their Syncs undo each other forever)."""
        seen = {self.scenario.state}
        progress = True
        while progress:
            progress = False
            for inst in self.model.instances:
                state = self.scenario.state
                if not inst.environment or inst.action not in self.eager:
                    continue
                if inst.refusal(state) is None and inst.apply(state) not in seen:
                    self.scenario.call(inst.action, **dict(inst.params))
                    seen.add(self.scenario.state)
                    progress = True

    def metadata(self, key_set: str, region: str) -> dict[str, Any] | None:
        """DescribeKey's KeyMetadata: the first view the model allows (None: no such key)."""
        views = describe_key(self.model, self.scenario.state, key_set, region)
        if not views:
            return None
        metadata = key_metadata(views[0], self.ids[key_set], lambda r: self.arn(key_set, r))
        description = self.descriptions.get((key_set, region), "")
        return {"Arn": self.arn(key_set, region), **metadata, "Description": description}


class ModelKmsClient:
    """One Region's client: the boto3 KMS methods the conformance runner calls."""

    def __init__(self, world: ModelKms, region: str) -> None:
        self.world = world
        self.region = region

    def _key(self, key_id: str, operation: str) -> str:
        return self.world.key_set_of(key_id, operation, self.region)

    def _simple(self, operation: str, action: str, KeyId: str) -> dict[str, Any]:
        s = self._key(KeyId, operation)
        self.world.call(operation, action, s=s, r=self.region)
        return {"KeyId": self.world.arn(s, self.region)}

    def list_keys(self, **_: Any) -> dict[str, Any]:
        return {"Keys": []}

    def create_key(
        self, MultiRegion: bool = False, Origin: str = "AWS_KMS", Description: str = "", **_: Any
    ) -> dict[str, Any]:
        if not MultiRegion:  # outside the model: only for ReplicateKey to refuse (§3.2.2)
            key_id = self.world.key_id(f"single-{len(self.world.single_region)}")[4:]
            self.world.single_region.add(key_id)
            return {"KeyMetadata": {"KeyId": key_id, "Arn": f"arn:aws:kms:{self.region}:"
                                    f"{ACCOUNT}:key/{key_id}", "MultiRegion": False}}  # fmt: skip
        fresh = [s for s in self.world.key_sets if s not in self.world.ids]
        if not fresh:
            raise _client_error("LimitExceededException", "no key set left", "CreateKey")
        s = fresh[0]
        self.world.call("CreateKey", "CreateKey", s=s, r=self.region, origin=Origin)
        self.world.ids[s] = self.world.key_id(s)
        self.world.descriptions[(s, self.region)] = Description
        return {"KeyMetadata": self.world.metadata(s, self.region)}

    def replicate_key(
        self,
        KeyId: str,
        ReplicaRegion: str,
        Description: str = "",
        Tags: Any = (),
        Policy: str = DEFAULT_POLICY,
        **_: Any,
    ) -> dict[str, Any]:
        op = "ReplicateKey"
        if not REGION.fullmatch(ReplicaRegion):
            raise _client_error("ValidationException", f"bad ReplicaRegion {ReplicaRegion}", op)
        if ReplicaRegion not in self.world.model.universe("Region").elements:
            raise _client_error("UnsupportedOperationException", f"{ReplicaRegion} unknown", op)
        s = self._key(KeyId, op)
        self.world.call(op, op, s=s, r=self.region, replica=ReplicaRegion)
        self.world.descriptions[(s, ReplicaRegion)] = Description  # never the primary's (§2)
        return {
            "ReplicaKeyMetadata": self.world.metadata(s, ReplicaRegion),
            "ReplicaPolicy": Policy,  # the one given, else the default (§3.2)
            "ReplicaTags": list(Tags),
        }

    def update_primary_region(self, KeyId: str, PrimaryRegion: str) -> dict[str, Any]:
        s = self._key(KeyId, "UpdatePrimaryRegion")
        self.world.call(
            "UpdatePrimaryRegion", "UpdatePrimaryRegion", s=s, r=self.region, primary=PrimaryRegion
        )
        return {}

    def schedule_key_deletion(self, KeyId: str, PendingWindowInDays: int = 30) -> dict[str, Any]:
        op = "ScheduleKeyDeletion"
        if not 7 <= PendingWindowInDays <= 30:  # §3.4, Q12
            raise _client_error("ValidationException", "PendingWindowInDays must be 7..30", op)
        s = self._key(KeyId, op)
        self.world.call(op, op, s=s, r=self.region)
        state = self.world.scenario.value("key_state", s, self.region)
        out = {"KeyId": self.world.arn(s, self.region), "KeyState": state}
        if state == "PendingDeletion":  # absent for a primary waiting for its replicas (§3.4)
            out["DeletionDate"] = "2026-01-01T00:00:00Z"
        return out

    def cancel_key_deletion(self, KeyId: str) -> dict[str, Any]:
        return self._simple("CancelKeyDeletion", "CancelKeyDeletion", KeyId)

    def enable_key(self, KeyId: str) -> dict[str, Any]:
        return self._simple("EnableKey", "EnableKey", KeyId)

    def disable_key(self, KeyId: str) -> dict[str, Any]:
        return self._simple("DisableKey", "DisableKey", KeyId)

    def enable_key_rotation(self, KeyId: str, **_: Any) -> dict[str, Any]:
        return self._simple("EnableKeyRotation", "EnableKeyRotation", KeyId)

    def disable_key_rotation(self, KeyId: str) -> dict[str, Any]:
        return self._simple("DisableKeyRotation", "DisableKeyRotation", KeyId)

    def rotate_key_on_demand(self, KeyId: str) -> dict[str, Any]:
        return self._simple("RotateKeyOnDemand", "RotateKeyOnDemand", KeyId)

    def delete_imported_key_material(self, KeyId: str) -> dict[str, Any]:
        return self._simple("DeleteImportedKeyMaterial", "DeleteImportedKeyMaterial", KeyId)

    def encrypt(self, KeyId: str, Plaintext: bytes, **_: Any) -> dict[str, Any]:
        s = self._key(KeyId, "Encrypt")
        self.world.call("Encrypt", "Encrypt", s=s, r=self.region)
        blob = self.world.ids[s].encode() + b"|" + Plaintext
        return {"CiphertextBlob": blob, "KeyId": self.world.arn(s, self.region)}

    def decrypt(self, CiphertextBlob: bytes, KeyId: str | None = None, **_: Any) -> dict[str, Any]:
        key_id, _sep, plaintext = CiphertextBlob.partition(b"|")
        s = self._key(key_id.decode(), "Decrypt")
        if KeyId is not None and self._key(KeyId, "Decrypt") != s:
            raise _client_error("IncorrectKeyException", "another key", "Decrypt")
        self.world.call("Decrypt", "Decrypt", s=s, r=self.region)
        return {"Plaintext": plaintext, "KeyId": self.world.arn(s, self.region)}

    def get_key_rotation_status(self, KeyId: str) -> dict[str, Any]:
        """This key's copy of the shared rotation flag (a replica's lags until a Sync); false
        while pending deletion (§6); refused for imported material (§4 fn6/fn7)."""
        s = self._key(KeyId, "GetKeyRotationStatus")
        if self.world.scenario.value("key_state", s, self.region) == "Absent":
            raise _client_error(
                "NotFoundException", f"Key '{KeyId}' does not exist", "GetKeyRotationStatus"
            )
        if self.world.scenario.value("origin", s) == "EXTERNAL":
            raise _client_error(
                "UnsupportedOperationException", "imported key material", "GetKeyRotationStatus"
            )
        state = self.world.scenario.value("key_state", s, self.region)
        flag = self.world.scenario.value("rotation", s, self.region) == "true"
        return {"KeyRotationEnabled": flag and not state.startswith("Pending")}

    def describe_key(self, KeyId: str) -> dict[str, Any]:
        s = self._key(KeyId, "DescribeKey")
        metadata = self.world.metadata(s, self.region)
        if metadata is None:
            raise _client_error("NotFoundException", f"Key '{KeyId}' does not exist", "DescribeKey")
        return {"KeyMetadata": metadata}


def model_clients(
    model: Model, eager: tuple[str, ...] = EAGER, chance: float = 1.0, seed: int = 0
) -> dict[str, ModelKmsClient]:
    """One fake client per Region of ``model``, sharing one world."""
    world = ModelKms(model, eager, chance, seed)
    return {r: world.client(r) for r in model.universe("Region").elements}
