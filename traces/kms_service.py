"""KMS's JSON API answered by the model: the service ``mrkcheck serve`` puts behind the generic
protocol front end (:mod:`mrkcheck.serve.json_protocol`).

Every operation the model has is decided by it: the call is the model's action instance, taken
if its guards allow it, else refused with the exception of the first failing guard (the order of
§3). DescribeKey shows one of the views :func:`mrkcheck.model.observe.describe_key` allows (the
least expected one under ``--transients adversarial``). The response shapes follow botocore's
output shapes for KMS. KMS operations outside the model answer ``UnsupportedOperationException``
(HTTP 400), as KMS does for a call it does not support; a target that is no KMS operation gets
the protocol's ``UnknownOperationException`` from the front end.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from mrkcheck.errors import unknown_name
from mrkcheck.lang.model import Model
from mrkcheck.model.observe import key_metadata
from mrkcheck.serve.json_protocol import ApiError
from mrkcheck.traces import kms_crypto as crypto
from mrkcheck.traces.conform_fake import EAGER
from mrkcheck.traces.kms_world import MODES, Key, Refused, ServeConfig, World

# Every operation of KMS's API (botocore's service model, kms 2014-11-01).
KMS_OPERATIONS = frozenset(
    [
        "CancelKeyDeletion",
        "ConnectCustomKeyStore",
        "CreateAlias",
        "CreateCustomKeyStore",
        "CreateGrant",
        "CreateKey",
        "Decapsulate",
        "Decrypt",
        "DeleteAlias",
        "DeleteCustomKeyStore",
        "DeleteImportedKeyMaterial",
        "DeriveSharedSecret",
        "DescribeCustomKeyStores",
        "DescribeKey",
        "DisableKey",
        "DisableKeyRotation",
        "DisconnectCustomKeyStore",
        "EnableKey",
        "EnableKeyRotation",
        "Encapsulate",
        "Encrypt",
        "GenerateDataKey",
        "GenerateDataKeyPair",
        "GenerateDataKeyPairWithoutPlaintext",
        "GenerateDataKeyWithoutPlaintext",
        "GenerateMac",
        "GenerateRandom",
        "GetKeyLastUsage",
        "GetKeyPolicy",
        "GetKeyRotationStatus",
        "GetParametersForImport",
        "GetPublicKey",
        "ImportKeyMaterial",
        "ListAliases",
        "ListGrants",
        "ListKeyPolicies",
        "ListKeyRotations",
        "ListKeys",
        "ListResourceTags",
        "ListRetirableGrants",
        "PutKeyPolicy",
        "ReEncrypt",
        "ReplicateKey",
        "RetireGrant",
        "RevokeGrant",
        "RotateKeyOnDemand",
        "ScheduleKeyDeletion",
        "Sign",
        "TagResource",
        "UntagResource",
        "UpdateAlias",
        "UpdateCustomKeyStore",
        "UpdateKeyDescription",
        "UpdatePrimaryRegion",
        "Verify",
        "VerifyMac",
    ]
)
SYMMETRIC = "SYMMETRIC_DEFAULT"
REGION_NAME = re.compile(
    r"^([a-z]+-){2,3}\d+$"
)  # botocore's RegionType (ReplicaRegion, PrimaryRegion)
MAX_PLAINTEXT = 4096
IMPORT_VALID_SECONDS = 24 * 3600
ARN = re.compile(r"^arn:aws[a-z-]*:kms:([a-z0-9-]+):(\d{12}):key/(.+)$")
DEFAULT_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Id": "key-default-1",
        "Statement": [
            {
                "Sid": "Enable IAM User Permissions",
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
                "Action": "kms:*",
                "Resource": "*",
            }
        ],
    }
)


def validation(message: str) -> ApiError:
    return ApiError("ValidationException", message)


class Request:
    """One call's body with typed access: a missing required member is a ValidationException,
    a member of the wrong JSON type a SerializationException (as AWS's JSON protocol answers)."""

    def __init__(self, body: Mapping[str, Any]) -> None:
        self.body = body

    def get(self, name: str, kind: type | tuple[type, ...], required: bool = False) -> Any:
        value = self.body.get(name)
        if value is None:
            if required:
                raise validation(
                    f"1 validation error detected: Value null at '{name}' failed to satisfy "
                    "constraint: Member must not be null"
                )
            return None
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ApiError("SerializationException", f"{name}: wrong JSON type")
        return value

    def text(self, name: str, required: bool = False) -> str | None:
        value = self.get(name, str, required)
        if required and value == "":
            raise validation(f"{name} must not be empty")
        return value

    def blob(self, name: str, required: bool = False) -> bytes | None:
        value = self.get(name, str, required)
        if value is None:
            return None
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise ApiError("SerializationException", f"{name}: not base64") from None

    def tags(self) -> list[dict[str, str]]:
        """``Tags``: a list of ``{"TagKey": ..., "TagValue": ...}``, as given."""
        tags = self.get("Tags", list) or []
        for tag in tags:
            if not (isinstance(tag, dict) and isinstance(tag.get("TagKey"), str)):
                raise ApiError("SerializationException", "Tags: each tag needs a TagKey string")
            if not isinstance(tag.get("TagValue", ""), str):
                raise ApiError("SerializationException", "Tags: TagValue must be a string")
        return [{"TagKey": t["TagKey"], "TagValue": t.get("TagValue", "")} for t in tags]

    def context(self) -> dict[str, str]:
        context = self.get("EncryptionContext", dict) or {}
        if not all(isinstance(v, str) for v in context.values()):
            raise ApiError("SerializationException", "EncryptionContext: values must be strings")
        return context


Handler = Callable[["KmsService", str, Request], dict[str, Any]]


class KmsService:
    """The KMS API over a :class:`World`, one lock around each call (thread-safe)."""

    target_prefix = "TrentService"
    operations = KMS_OPERATIONS
    internal_error = "KMSInternalException"

    def __init__(
        self,
        config: ServeConfig,
        build: Callable[..., Model],
        state_file: str | None = None,
        secret: bytes | None = None,
    ) -> None:
        if config.transients not in MODES:
            raise ValueError(unknown_name("transients mode", config.transients, MODES))
        self.world = World(config, build, secret or secrets.token_bytes(32))
        self.state_file = Path(state_file) if state_file else None
        self.wrapping = crypto.Wrapping()
        self.imports: dict[str, tuple[int, str, str, float]] = {}  # token -> key, Region, ...
        if self.state_file is not None and self.state_file.exists():
            self.world.load(self.state_file)
        self._touched: set[int] = set()

    # --- the front end's two entry points -----------------------------------------------------

    def call(self, operation: str, region: str, body: dict[str, Any]) -> dict[str, Any]:
        handler = HANDLERS.get(operation)
        with self.world.lock:
            world = self.world
            if region not in world.regions:
                raise validation(
                    unknown_name("Region", region, world.regions, "this server models these")
                )
            if handler is None:
                raise ApiError(
                    "UnsupportedOperationException",
                    f"{operation} is not part of the model mrkcheck serves "
                    "(multi-Region symmetric keys)",
                )
            self._touched = set()
            before = [len(r.scenario.steps) for r in world.runs]
            world.catch_up()
            result, message = self.internal_error, ""  # unless the handler answers or refuses
            try:
                answer = handler(self, region, Request(body))
                result = "ok"
            except Refused as exc:
                result, message = exc.error_type, exc.message
                raise ApiError(exc.error_type, exc.message) from None
            except ApiError as exc:
                result, message = exc.error_type, exc.message
                raise
            finally:
                world.catch_up()
                self._record(operation, region, result, message)
                changed = [len(r.scenario.steps) for r in world.runs] != before
                if self.state_file is not None and (changed or operation == "CreateKey"):
                    world.save(self.state_file)
            return answer

    def _record(self, operation: str, region: str, result: str, message: str) -> None:
        """The request in the header of each instance it touched (instance 1's if none): the
        operation, Region, result (``ok`` or the error with its message) and the index of the
        state it left, after the environment steps that followed it."""
        runs = self._touched or ({0} if self.world.runs else set())
        for run in sorted(runs):
            steps = len(self.world.runs[run].scenario.steps) - 1
            entry = {"operation": operation, "region": region, "result": result, "state": steps}
            if message:
                entry["message"] = message
            self.world.runs[run].requests.append(entry)

    def control(self, path: str, query: Mapping[str, str], body: bytes) -> dict[str, Any]:
        with self.world.lock:
            world = self.world
            world.catch_up()
            if path == "state":
                return self.snapshot()
            if path == "trace":
                run = _int(query.get("instance", "1"), "instance") - 1
                if not 0 <= run < max(len(world.runs), 1):
                    raise validation(f"instance must be between 1 and {len(world.runs)}")
                world.ensure_run(run)  # before any key: the initial state alone
                return world.itf(run)
            if path == "advance":
                days = _float(query.get("days", "1"), "days")
                world.clock.advance(days)
                world.catch_up()
                self._saved()
                return {"advanced_days": days, "now": world.clock.now()}
            if path in ("step", "settle"):
                taken = self._step(query, every=path == "settle")
                self._saved()
                return {"taken": taken}
            if path == "reset":
                world.reset()
                self.imports.clear()
                self._saved()
                return {"reset": True}
            raise ApiError(
                "UnknownOperationException",
                unknown_name(
                    "control endpoint",
                    path,
                    ("state", "trace", "advance", "step", "settle", "reset"),
                ),
                404,
            )

    def _saved(self) -> None:
        if self.state_file is not None:
            self.world.save(self.state_file)

    def _step(self, query: Mapping[str, str], every: bool) -> list[str]:
        """Take one enabled environment step (``?action=``, ``?key=`` narrow it), or with
        ``settle`` every enabled transient until none is left."""
        world = self.world
        keys = world.keys
        environment = sorted({i.action for i in world.model.instances if i.environment})
        if query.get("action", environment[0]) not in environment:
            raise validation(unknown_name("environment step", query["action"], environment))
        if "key" in query:
            keys = [self._lookup(query["key"], None)]
        taken: list[str] = []
        progress = True
        while progress:
            progress = False
            for key in keys:
                for label in world.pending(key):
                    action = label.split("(", 1)[0]
                    if query.get("action", action) != action:
                        continue
                    if every and action not in EAGER:
                        continue
                    world.take_if_enabled(key.instance, label)
                    taken.append(f"{key.key_id}: {label}")
                    if not every:
                        return taken
                    progress = True
                    break
        return taken

    def snapshot(self) -> dict[str, Any]:
        """Every key's model state per Region, the clock and what is pending."""
        world = self.world
        keys = []
        for key in world.keys:
            regions = {
                r: {
                    "KeyState": world.value(key, "key_state", r),
                    "Role": world.value(key, "role", r),
                    "RotationEnabled": world.value(key, "rotation", r) == "true",
                    "MaterialVersions": int(world.value(key, "versions", r)),
                }
                for r in world.regions
            }
            keys.append(
                {
                    "KeyId": key.key_id,
                    "Origin": key.origin,
                    "Instance": key.instance + 1,
                    "KeySet": key.key_set,
                    "Regions": regions,
                    "PendingSteps": world.pending(key),
                }
            )
        return {
            "transients": world.config.transients,
            "now": world.clock.now(),
            "regions": list(world.regions),
            "keys": keys,
            "instances": len(world.runs),
            "dues": [
                {"action": a, "KeyId": world.keys[n].key_id, "region": r, "at": t}
                for (a, n, r), t in sorted(world.dues.items())
            ],
        }

    # --- keys and shapes ----------------------------------------------------------------------

    def _lookup(self, ref: str, region: str | None) -> Key:
        """The key a KeyId names: a key ID or a key ARN (of this Region); aliases are not
        modelled."""
        key_id = ref
        match = ARN.match(ref)
        if ref.startswith("arn:"):
            if match is None:
                raise ApiError("InvalidArnException", f"Invalid arn {ref[:120]}")
            if region is not None and match.group(1) != region:
                raise ApiError("NotFoundException", f"Invalid arn {match.group(1)}")
            key_id = match.group(3)
        key = self.world.by_id.get(key_id)
        if key is None:
            raise ApiError("NotFoundException", f"Key '{ref[:120]}' does not exist")
        self._touched.add(key.instance)
        return key

    def key(self, region: str, req: Request, name: str = "KeyId") -> Key:
        return self._lookup(req.text(name, required=True) or "", region)

    def existing(self, key: Key, region: str) -> list[dict[str, Any]]:
        views = self.world.views(key, region)
        if not views:
            raise ApiError(
                "NotFoundException", f"Key '{self.world.arn(key, region)}' does not exist"
            )
        return views

    def metadata(self, key: Key, region: str) -> dict[str, Any]:
        """DescribeKey's KeyMetadata (botocore's shape) from one allowed view."""
        world = self.world
        views = self.existing(key, region)
        adversarial = world.config.transients == "adversarial"
        view = self.adversarial_view(key, region, views) if adversarial else views[0]
        state = view["KeyState"]
        data: dict[str, Any] = {
            "AWSAccountId": world.arn(key, region).split(":")[4],
            "Arn": world.arn(key, region),
            "CreationDate": key.created.get(region, world.clock.now()),
            "Description": key.descriptions.get(region, ""),
            "KeyUsage": "ENCRYPT_DECRYPT",
            "KeyManager": "CUSTOMER",
            "CustomerMasterKeySpec": SYMMETRIC,
            "KeySpec": SYMMETRIC,
            "EncryptionAlgorithms": [SYMMETRIC],
            **key_metadata(view, key.key_id, lambda r: world.arn(key, r)),
        }
        due = world.dues.get(("DeletionDue", key.number, region))
        if state == "PendingDeletion" and due is not None:
            data["DeletionDate"] = due
        if state == "PendingReplicaDeletion":
            data["PendingDeletionWindowInDays"] = key.windows.get(region, 30)
        if key.origin == "EXTERNAL":
            expires = world.dues.get(("MaterialExpires", key.number, region))
            data["ExpirationModel"] = (
                "KEY_MATERIAL_EXPIRES" if expires else "KEY_MATERIAL_DOES_NOT_EXPIRE"
            )
            if expires:
                data["ValidTo"] = expires
        return data

    def adversarial_view(
        self, key: Key, region: str, views: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """The view a naive client least expects while an update is in flight (several views
        allowed). The first DescribeKey of a key shows the stale view (both keys of the pair as
        replicas, a third key naming the old primary): a script that reads it at once is wrong.
        The later ones show the new roles while the pair is still Updating: a script that waits
        for them and then acts on the old primary is wrong. No single view traps both."""
        mark = (key.number, region)
        if len(views) == 1:  # no update in flight
            self.world.polled.discard(mark)
        elif mark in self.world.polled:
            return views[0]  # the new roles, the model's first view
        else:
            self.world.polled.add(mark)
        return least_expected(views)

    def region_param(self, req: Request, name: str) -> str:
        region = req.text(name, required=True) or ""
        if not REGION_NAME.fullmatch(region):  # botocore's RegionType, checked before anything
            raise validation(
                f"1 validation error detected: Value '{region[:100]}' at "
                f"'{name[0].lower() + name[1:]}' failed to satisfy constraint: Member must "
                f"satisfy regular expression pattern: {REGION_NAME.pattern}"
            )
        if region not in self.world.regions:
            raise ApiError(
                "UnsupportedOperationException",
                unknown_name(f"{name}", region, self.world.regions, "this server models these"),
            )
        return region

    def material_key(self, key: Key, version: int) -> bytes:
        secret = bytes.fromhex(key.material) if key.material else self.world.secret
        return crypto.derive(secret, key.key_id, version)


def least_expected(views: list[dict[str, Any]]) -> dict[str, Any]:
    """The allowed view a naive client least expects: during Updating, the key shown as a
    replica (so both keys of the pair are, and no primary is to be found); otherwise the stale
    one (the old primary, the old replica list), which the model lists last."""
    replicas = [
        v
        for v in views
        if v["KeyState"] == "Updating"
        and v["MultiRegionConfiguration"]["MultiRegionKeyType"] == "REPLICA"
    ]
    return (replicas or views)[-1]


# --- the operations -------------------------------------------------------------------------------


def create_key(svc: KmsService, region: str, req: Request) -> dict[str, Any]:
    world = svc.world
    if req.get("MultiRegion", bool) is not True:
        raise ApiError(
            "UnsupportedOperationException",
            "mrkcheck serve models multi-Region keys only: call CreateKey with MultiRegion=true",
        )
    for name, allowed in (
        ("KeySpec", SYMMETRIC),
        ("CustomerMasterKeySpec", SYMMETRIC),
        ("KeyUsage", "ENCRYPT_DECRYPT"),
    ):
        value = req.text(name)
        if value not in (None, allowed):
            raise ApiError("UnsupportedOperationException", f"{name} {value} is not modelled")
    origin = req.text("Origin") or "AWS_KMS"
    origins = world.model.universe("Origin").elements
    if origin not in origins:
        raise ApiError(
            "UnsupportedOperationException",
            unknown_name("Origin", origin, origins, "this server models these"),
        )
    key = world.new_key(origin)
    world.apply(key, "CreateKey", r=region, origin=origin)
    world.register(key)
    svc._touched.add(key.instance)
    key.descriptions[region] = req.text("Description") or ""
    key.created[region] = world.clock.now()
    return {"KeyMetadata": svc.metadata(key, region)}


def replicate_key(svc: KmsService, region: str, req: Request) -> dict[str, Any]:
    key = svc.key(region, req)
    replica = svc.region_param(req, "ReplicaRegion")
    tags = req.tags()
    policy = replica_policy(req)
    svc.world.apply(key, "ReplicateKey", r=region, replica=replica)
    key.created[replica] = svc.world.clock.now()
    # a replica's description is its own, from this call: never copied from the primary (§2)
    key.descriptions[replica] = req.text("Description") or ""
    return {  # the new key as the call left it (Creating); KMS completes it afterwards
        "ReplicaKeyMetadata": svc.metadata(key, replica),
        "ReplicaPolicy": policy,  # the one given, else the default: a replica's own (§3.2)
        "ReplicaTags": tags,  # the tags given: a replica's tags are its own (§3.2)
    }


def replica_policy(req: Request) -> str:
    """ReplicateKey's ``Policy``: a JSON document (else MalformedPolicyDocumentException, as
    KMS answers), or the default key policy when none is given."""
    policy = req.text("Policy")
    if policy is None:
        return DEFAULT_POLICY
    try:
        json.loads(policy)
    except ValueError:
        raise ApiError(
            "MalformedPolicyDocumentException", "Policy is not a JSON document"
        ) from None
    return policy


def update_primary_region(svc: KmsService, region: str, req: Request) -> dict[str, Any]:
    key = svc.key(region, req)
    svc.world.apply(
        key, "UpdatePrimaryRegion", r=region, primary=svc.region_param(req, "PrimaryRegion")
    )
    svc.world.polled -= {(key.number, r) for r in svc.world.regions}  # a new Updating begins
    return {}


def schedule_key_deletion(svc: KmsService, region: str, req: Request) -> dict[str, Any]:
    key = svc.key(region, req)
    days = req.get("PendingWindowInDays", int)
    low, high = (
        int(x) for x in str(svc.world.model.option("pending_window_days", "7..30")).split("..")
    )
    days = 30 if days is None else days
    if not low <= days <= high:
        raise validation(f"PendingWindowInDays must be between {low} and {high}, not {days}")
    previous = key.windows.get(region)
    key.windows[region] = days
    try:
        svc.world.apply(key, "ScheduleKeyDeletion", r=region)
    except Refused:
        if previous is None:
            key.windows.pop(region)
        else:
            key.windows[region] = previous
        raise
    state = svc.world.value(key, "key_state", region)
    answer: dict[str, Any] = {
        "KeyId": svc.world.arn(key, region),
        "KeyState": state,
        "PendingWindowInDays": days,
    }
    due = svc.world.dues.get(("DeletionDue", key.number, region))
    if state == "PendingDeletion" and due is not None:
        answer["DeletionDate"] = due
    return answer


def _simple(action: str, answer_key_id: bool = False) -> Handler:
    def handle(svc: KmsService, region: str, req: Request) -> dict[str, Any]:
        key = svc.key(region, req)
        svc.world.apply(key, action, r=region)
        return {"KeyId": svc.world.arn(key, region)} if answer_key_id else {}

    handle.__doc__ = f"{action}: the model's action, nothing else to say."
    return handle


def enable_key_rotation(svc: KmsService, region: str, req: Request) -> dict[str, Any]:
    key = svc.key(region, req)
    period = req.get("RotationPeriodInDays", int)
    if period is not None and not 90 <= period <= 2560:
        raise validation(f"RotationPeriodInDays must be between 90 and 2560, not {period}")
    svc.world.apply(key, "EnableKeyRotation", r=region)
    if period is not None and period != key.rotation_period:
        key.rotation_period = period
        svc.world.schedule_rotation(key, on=False)  # due again a new period from now
    svc.world.schedule_rotation(key, on=True)
    return {}


def disable_key_rotation(svc: KmsService, region: str, req: Request) -> dict[str, Any]:
    key = svc.key(region, req)
    svc.world.apply(key, "DisableKeyRotation", r=region)
    svc.world.schedule_rotation(key, on=False)
    return {}


def get_key_rotation_status(svc: KmsService, region: str, req: Request) -> dict[str, Any]:
    """This key's copy of the shared flag, which lags the primary's until a Sync (§2)."""
    key = svc.key(region, req)
    svc.existing(key, region)
    if key.origin == "EXTERNAL":
        raise ApiError("UnsupportedOperationException", "keys with imported material do not rotate")
    enabled = svc.world.value(key, "rotation", region) == "true"
    answer: dict[str, Any] = {"KeyRotationEnabled": enabled, "KeyId": svc.world.arn(key, region)}
    if enabled:
        answer["RotationPeriodInDays"] = key.rotation_period
        due = svc.world.dues.get(("AutomaticRotation", key.number, ""))
        if due is not None:
            answer["NextRotationDate"] = due
    return answer


def encrypt(svc: KmsService, region: str, req: Request) -> dict[str, Any]:
    key = svc.key(region, req)
    plaintext = req.blob("Plaintext", required=True) or b""
    if not 1 <= len(plaintext) <= MAX_PLAINTEXT:
        raise validation(f"Plaintext must be 1 to {MAX_PLAINTEXT} bytes, not {len(plaintext)}")
    _algorithm(req)
    context = req.context()
    svc.world.apply(key, "Encrypt", r=region)
    version = int(svc.world.value(key, "ciphertext"))
    blob = crypto.seal(svc.material_key(key, version), key.key_id, version, plaintext, context)
    return {
        "CiphertextBlob": base64.b64encode(blob).decode("ascii"),
        "KeyId": svc.world.arn(key, region),
        "EncryptionAlgorithm": SYMMETRIC,
    }


def generate_data_key(svc: KmsService, region: str, req: Request) -> dict[str, Any]:
    """A fresh data key encrypted as Encrypt would (the same model action)."""
    spec, size = req.text("KeySpec"), req.get("NumberOfBytes", int)
    if spec is not None and size is not None:
        raise validation("give KeySpec or NumberOfBytes, not both")
    sizes = {"AES_256": 32, "AES_128": 16}
    if spec is not None and spec not in sizes:
        raise validation(unknown_name("KeySpec", spec, sizes))
    if size is not None and not 1 <= size <= 1024:
        raise validation(f"NumberOfBytes must be between 1 and 1024, not {size}")
    size = size or sizes.get(spec or "AES_256", 32)
    data_key = os.urandom(size)
    body = dict(req.body)
    body.pop("KeySpec", None)
    body.pop("NumberOfBytes", None)
    body["Plaintext"] = base64.b64encode(data_key).decode("ascii")
    answer = encrypt(svc, region, Request(body))
    answer.pop("EncryptionAlgorithm")
    answer["Plaintext"] = body["Plaintext"]
    return answer


def decrypt(svc: KmsService, region: str, req: Request) -> dict[str, Any]:
    blob = req.blob("CiphertextBlob", required=True) or b""
    _algorithm(req)
    context = req.context()
    try:
        parsed = crypto.parse(blob)
    except crypto.BadCiphertext as exc:
        raise ApiError("InvalidCiphertextException", str(exc)) from None
    key = svc._lookup(parsed.key_id, None) if parsed.key_id in svc.world.by_id else None
    if key is None:
        raise ApiError("InvalidCiphertextException", "the ciphertext names no key of this server")
    if req.text("KeyId") is not None and svc.key(region, req) is not key:
        raise ApiError("IncorrectKeyException", "the ciphertext was made with another key")
    try:
        plaintext = crypto.open_blob(svc.material_key(key, parsed.version), blob, context)
    except crypto.BadCiphertext as exc:
        raise ApiError("InvalidCiphertextException", str(exc)) from None
    svc.world.apply(key, "Decrypt", r=region)
    return {
        "KeyId": svc.world.arn(key, region),
        "Plaintext": base64.b64encode(plaintext).decode("ascii"),
        "EncryptionAlgorithm": SYMMETRIC,
    }


def _algorithm(req: Request) -> None:
    algorithm = req.text("EncryptionAlgorithm")
    if algorithm not in (None, SYMMETRIC):
        raise ApiError("InvalidKeyUsageException", f"{algorithm} is not for symmetric keys")


def describe_key(svc: KmsService, region: str, req: Request) -> dict[str, Any]:
    return {"KeyMetadata": svc.metadata(svc.key(region, req), region)}


def list_keys(svc: KmsService, region: str, req: Request) -> dict[str, Any]:
    limit = req.get("Limit", int)
    limit = 100 if limit is None else limit
    if not 1 <= limit <= 1000:
        raise validation(f"Limit must be between 1 and 1000, not {limit}")
    marker = req.text("Marker")
    start = 0
    if marker is not None:
        if not marker.isdigit():
            raise ApiError("InvalidMarkerException", "the marker is not one this server gave")
        start = int(marker)
    here = [k for k in svc.world.keys if svc.world.views(k, region)]
    page = here[start : start + limit]
    answer: dict[str, Any] = {
        "Keys": [{"KeyId": k.key_id, "KeyArn": svc.world.arn(k, region)} for k in page],
        "Truncated": start + limit < len(here),
    }
    if answer["Truncated"]:
        answer["NextMarker"] = str(start + limit)
    return answer


def get_parameters_for_import(svc: KmsService, region: str, req: Request) -> dict[str, Any]:
    key = svc.key(region, req)
    svc.existing(key, region)
    state, arn = svc.world.value(key, "key_state", region), svc.world.arn(key, region)
    if state in ("Creating", "Updating"):  # §4: fn14, fn15
        raise ApiError("KMSInvalidStateException", f"{arn} is {state.lower()}.")
    if key.origin != "EXTERNAL":  # §4: fn9
        raise ApiError("UnsupportedOperationException", f"{arn} has no imported key material")
    if state.startswith("Pending") and state != "PendingImport":  # §4: fn8
        raise ApiError("KMSInvalidStateException", f"{arn} is pending deletion.")
    algorithm = req.text("WrappingAlgorithm", required=True) or ""
    spec = req.text("WrappingKeySpec", required=True)
    if algorithm not in crypto.WRAPPING or spec != "RSA_2048":
        raise ApiError(
            "UnsupportedOperationException",
            f"wrapping {algorithm} with {spec}: this server offers "
            f"{' or '.join(crypto.WRAPPING)} with RSA_2048",
        )
    token = secrets.token_bytes(32)
    valid_to = svc.world.clock.now() + IMPORT_VALID_SECONDS
    svc.imports[token.hex()] = (key.number, region, algorithm, valid_to)
    return {
        "KeyId": svc.world.arn(key, region),
        "ImportToken": base64.b64encode(token).decode("ascii"),
        "PublicKey": base64.b64encode(svc.wrapping.public_der()).decode("ascii"),
        "ParametersValidTo": valid_to,
    }


def import_key_material(svc: KmsService, region: str, req: Request) -> dict[str, Any]:
    key = svc.key(region, req)
    token = (req.blob("ImportToken", required=True) or b"").hex()
    wrapped = req.blob("EncryptedKeyMaterial", required=True) or b""
    grant = svc.imports.get(token)
    if grant is None or grant[:2] != (key.number, region):
        raise ApiError("InvalidImportTokenException", "the import token is not for this key")
    if svc.world.clock.now() > grant[3]:
        raise ApiError("ExpiredImportTokenException", "the import token has expired")
    model = req.text("ExpirationModel") or "KEY_MATERIAL_EXPIRES"
    valid_to = req.get("ValidTo", (int, float))
    if model == "KEY_MATERIAL_EXPIRES" and valid_to is None:
        raise validation("ValidTo is required when ExpirationModel is KEY_MATERIAL_EXPIRES")
    try:
        material = svc.wrapping.unwrap(wrapped, grant[2])
    except crypto.BadCiphertext as exc:
        raise ApiError("InvalidCiphertextException", str(exc)) from None
    if len(material) != 32:
        raise ApiError("IncorrectKeyMaterialException", "symmetric key material is 32 bytes")
    if key.material is not None and key.material != material.hex():
        raise ApiError("IncorrectKeyMaterialException", "the key set already has other material")
    svc.world.apply(key, "ImportKeyMaterial", r=region)
    key.material = material.hex()
    if model == "KEY_MATERIAL_EXPIRES" and valid_to is not None:
        svc.world.dues[("MaterialExpires", key.number, region)] = float(valid_to)
    else:
        svc.world.dues.pop(("MaterialExpires", key.number, region), None)
    return {"KeyId": svc.world.arn(key, region)}


def _int(text: str, name: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise validation(f"{name} must be a whole number, not {text[:40]!r}") from None


def _float(text: str, name: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise validation(f"{name} must be a number, not {text[:40]!r}") from None
    if not 0 <= value <= 3650:
        raise validation(f"{name} must be between 0 and 3650, not {value}")
    return value


HANDLERS: dict[str, Handler] = {
    "CreateKey": create_key,
    "ReplicateKey": replicate_key,
    "UpdatePrimaryRegion": update_primary_region,
    "ScheduleKeyDeletion": schedule_key_deletion,
    "CancelKeyDeletion": _simple("CancelKeyDeletion", answer_key_id=True),
    "EnableKey": _simple("EnableKey"),
    "DisableKey": _simple("DisableKey"),
    "EnableKeyRotation": enable_key_rotation,
    "DisableKeyRotation": disable_key_rotation,
    "GetKeyRotationStatus": get_key_rotation_status,
    "RotateKeyOnDemand": _simple("RotateKeyOnDemand", answer_key_id=True),
    "GetParametersForImport": get_parameters_for_import,
    "ImportKeyMaterial": import_key_material,
    "DeleteImportedKeyMaterial": _simple("DeleteImportedKeyMaterial"),
    "Encrypt": encrypt,
    "GenerateDataKey": generate_data_key,
    "Decrypt": decrypt,
    "DescribeKey": describe_key,
    "ListKeys": list_keys,
}
