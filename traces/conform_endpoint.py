"""The endpoint side of ``mrkcheck conform``: model action instances as boto3 KMS calls.

A model key set (``k1``...) stands for one key ID; its related key in Region ``r`` is the same ARN
with the Region replaced (§1: related ARNs differ only in the Region). This module turns an action
instance into that call on the Region's client, and a call's result or a DescribeKey response into
plain data (:class:`Outcome`, :func:`view_of`) that the runner compares with the model. It knows
nothing of the model's state: the runner decides what was expected.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

PLAINTEXT = b"mrkcheck conformance"
PRIMARY_DESCRIPTION = "mrkcheck conform"
PAGE = "(a page, not KMS JSON)"  # how a not-implemented HTTP 500 answer is described
PENDING_WINDOW_DAYS = 7  # the shortest documented window (§3.4), so a real run cleans up soonest
UNKNOWN_KEY_ID = "mrk-00000000000000000000000000000000"  # for calls on a key set never created
UNKNOWN_ACCOUNT = "111122223333"
# Actions the runner can drive. ImportKeyMaterial is left out on purpose: it needs
# GetParametersForImport and RSA wrapping of real material (see docs/conformance.md). The same
# operations as model/conformance.KEY_OPERATIONS, with CreateKey and Decrypt: not imported from
# there, so that importing the command line loads no model (tests/test_import_graph.py).
DRIVEN = (
    "CreateKey",
    "ReplicateKey",
    "UpdatePrimaryRegion",
    "ScheduleKeyDeletion",
    "CancelKeyDeletion",
    "EnableKey",
    "DisableKey",
    "EnableKeyRotation",
    "DisableKeyRotation",
    "RotateKeyOnDemand",
    "DeleteImportedKeyMaterial",
    "Encrypt",
    "Decrypt",
)


class EndpointError(Exception):
    """The endpoint cannot be used at all (unreachable, credentials refused, not KMS); one line
    for the CLI."""


@dataclass(frozen=True)
class Outcome:
    """What one call did: ``error`` is the normalised exception name (None on success)."""

    error: str | None = None
    message: str = ""
    not_implemented: bool = False
    response: dict[str, Any] = field(default_factory=dict)  # fields the runner checks

    def as_dict(self) -> dict[str, Any]:
        if self.not_implemented:
            return {"result": "not implemented", "message": self.message}
        if self.error:
            return {"result": "error", "error": self.error, "message": self.message}
        return {"result": "success", **self.response}


def normalise_error(code: str) -> str:
    """Emulators disagree on spelling (``KMSInvalidState``, ``kms#NotFoundException``): give
    botocore's names, with the ``Exception`` suffix, so they compare with the model's."""
    code = re.split(r"[#.:]", code.strip())[-1]
    if code.endswith(("Exception", "Error", "Fault")):
        return code
    return code + "Exception"


# Error codes emulators answer an action they do not know with (MiniStack: 400 InvalidAction
# "Unknown action"; botocore's generic UnknownOperationException).
UNKNOWN_ACTION_CODES = ("InvalidAction", "UnknownOperation", "UnknownOperationException")


def is_not_implemented(code: str, status: int | None, message: str) -> bool:
    """Emulators say "not implemented" in several ways: HTTP 501; HTTP 500 with a body that is not
    KMS JSON (moto_server's HTML page: botocore then names the error by its status, "500"); 400
    ``InvalidAction``/``UnknownOperation`` or "Unknown action"; or only a message."""
    text = f"{code} {message}".lower()
    if status == 501 or "notimplemented" in text.replace(" ", "") or "not implemented" in text:
        return True
    if status == 500 and not code[:1].isalpha():
        return True
    return code.split("#")[-1] in UNKNOWN_ACTION_CODES or "unknown action" in text


def view_of(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of a DescribeKey ``KeyMetadata`` that the runner compares (see COMPARED)."""
    conf = metadata.get("MultiRegionConfiguration") or {}
    replicas = conf.get("ReplicaKeys") or []
    return {
        "KeyState": metadata.get("KeyState"),
        "Enabled": metadata.get("Enabled"),
        "MultiRegionKeyType": conf.get("MultiRegionKeyType"),
        "PrimaryRegion": (conf.get("PrimaryKey") or {}).get("Region"),
        "ReplicaRegions": sorted(str(x.get("Region")) for x in replicas),
    }


def arn_in_region(arn: str, region: str) -> str:
    """The related key's ARN in ``region``: ``arn:partition:kms:REGION:account:key/id``."""
    parts = arn.split(":")
    parts[3] = region
    return ":".join(parts)


@dataclass(frozen=True)
class Call:
    """One call on the wire: a model action instance's action and parameters, how the key is
    named (``ref``: "arn" or "id") and an optional probe that changes one input to a documented
    invalid or optional form (see :data:`mrkcheck.model.conformance.PROBES`)."""

    action: str
    params: tuple[tuple[str, str], ...]
    ref: str = "arn"
    probe: str = ""

    @property
    def label(self) -> str:
        inner = ", ".join(f"{k}={v}" for k, v in self.params)
        extra = [f"ref={self.ref}"] + ([f"probe={self.probe}"] if self.probe else [])
        return f"{self.action}({inner}) [{', '.join(extra)}]"

    @property
    def model_label(self) -> str:
        return f"{self.action}({', '.join(f'{k}={v}' for k, v in self.params)})"

    def param(self, name: str) -> str:
        return dict(self.params)[name]

    def as_dict(self) -> dict[str, Any]:
        return {"action": self.action, "params": dict(self.params), "ref": self.ref,
                "probe": self.probe}  # fmt: skip

    @staticmethod
    def from_dict(d: Mapping[str, Any]) -> Call:
        params = tuple((str(k), str(v)) for k, v in dict(d["params"]).items())
        return Call(str(d["action"]), params, str(d.get("ref", "arn")), str(d.get("probe", "")))


REPLICA_DESCRIPTION = "mrkcheck replica"
REPLICA_TAGS = [{"TagKey": "mrkcheck", "TagValue": "replica"}]
POLICY_SENT = "the Policy sent"  # what the response's ReplicaPolicy should be, with "params"


def replica_policy(account: str) -> str:
    """The key policy the ``params`` probe gives ReplicateKey: a valid document (the account's
    root may do everything, so no lockout check refuses it), not the default one, so that an
    endpoint that ignores it, or copies the primary's, is seen (§2: the policy is independent)."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Id": "mrkcheck-replica",
            "Statement": [
                {
                    "Sid": "Enable IAM User Permissions",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                }
            ],
        }
    )


def policy_outcome(sent: str, answered: Any) -> str:
    """The response's ReplicaPolicy compared with the policy sent, as JSON (spacing and key
    order are the endpoint's)."""
    if not isinstance(answered, str) or not answered:
        return "absent"
    try:
        return POLICY_SENT if json.loads(answered) == json.loads(sent) else "another policy"
    except ValueError:
        return "not JSON"


MALFORMED_REGION = "Not_A_Region"
UNKNOWN_REGION = "xx-nowhere-9"


def _create(client: Any, ref: str, c: Call, ep: Endpoint) -> Mapping[str, Any]:
    resp = client.create_key(
        MultiRegion=True, Origin=c.param("origin"), Description=PRIMARY_DESCRIPTION
    )
    return resp["KeyMetadata"]


def _replicate(client: Any, ref: str, c: Call, ep: Endpoint) -> Mapping[str, Any]:
    region = {"malformed-region": MALFORMED_REGION, "unknown-region": UNKNOWN_REGION}.get(
        c.probe, c.param("replica")
    )
    extra: dict[str, Any] = {}
    if c.probe == "params":
        policy = replica_policy(ep.account())
        extra = {"Description": REPLICA_DESCRIPTION, "Tags": REPLICA_TAGS, "Policy": policy}
    if c.probe == "single-region-key":
        ref = ep.single_region_key(client)
    resp = client.replicate_key(KeyId=ref, ReplicaRegion=region, **extra)
    meta = dict(resp["ReplicaKeyMetadata"])
    meta["ReplicaPolicy"] = resp.get("ReplicaPolicy")
    meta["ReplicaTags"] = resp.get("ReplicaTags")
    if "Policy" in extra:
        meta["PolicyOutcome"] = policy_outcome(extra["Policy"], resp.get("ReplicaPolicy"))
    return meta


def _schedule(client: Any, ref: str, c: Call, ep: Endpoint) -> Mapping[str, Any]:
    window = int(c.probe.split("-")[1]) if c.probe.startswith("window-") else PENDING_WINDOW_DAYS
    return client.schedule_key_deletion(KeyId=ref, PendingWindowInDays=window)


def _encrypt(client: Any, ref: str, c: Call, ep: Endpoint) -> Mapping[str, Any]:
    resp = client.encrypt(KeyId=ref, Plaintext=PLAINTEXT)
    ep.ciphertexts[c.param("s")] = resp["CiphertextBlob"]
    return {}


def _decrypt(client: Any, ref: str, c: Call, ep: Endpoint) -> Mapping[str, Any]:
    # KeyId names the related key in this Region, as the AWS Encryption SDK does (MRK, §3.10).
    resp = client.decrypt(CiphertextBlob=ep.ciphertexts[c.param("s")], KeyId=ref)
    return {"PlaintextMatches": resp.get("Plaintext") == PLAINTEXT}


def _simple(method: str) -> _Call:
    def call(client: Any, ref: str, c: Call, ep: Endpoint) -> Mapping[str, Any]:
        return getattr(client, method)(KeyId=ref)

    return call


_Call = Callable[[Any, str, Call, "Endpoint"], Mapping[str, Any]]

CALLS: dict[str, _Call] = {
    "CreateKey": _create,
    "ReplicateKey": _replicate,
    "UpdatePrimaryRegion": lambda c, ref, call, ep: c.update_primary_region(
        KeyId=ref, PrimaryRegion=call.param("primary")
    ),
    "ScheduleKeyDeletion": _schedule,
    "CancelKeyDeletion": _simple("cancel_key_deletion"),
    "EnableKey": _simple("enable_key"),
    "DisableKey": _simple("disable_key"),
    "EnableKeyRotation": _simple("enable_key_rotation"),
    "DisableKeyRotation": _simple("disable_key_rotation"),
    "RotateKeyOnDemand": _simple("rotate_key_on_demand"),
    "DeleteImportedKeyMaterial": _simple("delete_imported_key_material"),
    "Encrypt": _encrypt,
    "Decrypt": _decrypt,
}
KEY_ID = re.compile(r"mrk-[0-9a-f]{32}")


@dataclass
class Endpoint:
    """One KMS endpoint, reached through one boto3-like client per Region, and the ARNs it gave
    the model's key sets. ``clients`` may be real boto3 clients or the model-backed fakes.
    ``answered``: operations that have answered in KMS JSON at least once (shared by the runs
    against one endpoint), so that a later HTTP 500 page from them is a crash, not "not
    implemented"."""

    clients: Mapping[str, Any]
    key_ref: str = "arn"  # the default way calls name a key: "arn" or "id"
    arns: dict[str, str] = field(default_factory=dict)  # key set -> ARN of its first key
    ciphertexts: dict[str, bytes] = field(default_factory=dict)  # key set -> newest ciphertext
    answered: set[str] = field(default_factory=set)
    single_region: dict[str, str] = field(default_factory=dict)  # Region -> a single-Region key

    def arn(self, key_set: str, region: str) -> str:
        """The ARN of the key set's key in ``region``; a well-formed unknown one if never created
        (the model then predicts NotFoundException, and so should the endpoint)."""
        if key_set in self.arns:
            return arn_in_region(self.arns[key_set], region)
        return f"arn:aws:kms:{region}:{self.account()}:key/{UNKNOWN_KEY_ID}"

    def account(self) -> str:
        """The account the endpoint's keys belong to (from an ARN it gave)."""
        return next(iter(self.arns.values())).split(":")[4] if self.arns else UNKNOWN_ACCOUNT

    def ref(self, key_set: str, region: str, how: str | None = None, probe: str = "") -> str:
        """How a call in ``region`` names the key: its ARN, or the bare key ID (same in every
        Region; the client's Region picks the related key); or a probe's malformed ARN or the
        ARN of the related key in another Region."""
        arn = self.arn(key_set, region)
        if probe == "malformed-arn":
            return arn.replace(":key/", ":key-") if "key/" in arn else arn + ":"
        if probe == "other-region-arn":
            return arn_in_region(arn, _other_region(region, list(self.clients)))
        return arn if (how or self.key_ref) == "arn" else arn.rsplit("/", 1)[-1]

    def single_region_key(self, client: Any) -> str:
        """A single-Region key in the client's Region, made once, for ReplicateKey to refuse."""
        region = client.meta.region_name if hasattr(client, "meta") else client.region
        if region not in self.single_region:
            self.single_region[region] = client.create_key(MultiRegion=False)["KeyMetadata"]["Arn"]
        return self.single_region[region]

    def call(self, call: Call) -> Outcome:
        """Make one call and say what happened."""
        region = call.param("r")
        ref = self.ref(call.param("s"), region, call.ref, call.probe)
        try:
            data = CALLS[call.action](self.clients[region], ref, call, self)
        except NotImplementedError as exc:  # moto in-process raises it straight through
            return Outcome("NotImplemented", str(exc), not_implemented=True)
        except Exception as exc:
            return self._failure(exc, call.action)
        self.answered.add(call.action)
        if call.action == "CreateKey":
            if not isinstance(data, Mapping) or not isinstance(data.get("Arn"), str):
                raise EndpointError(
                    "the endpoint answered CreateKey without KeyMetadata.Arn: not a KMS endpoint"
                )
            self.arns[call.param("s")] = data["Arn"]
        return Outcome(response=_response_fields(call, data, self.arn(call.param("s"), region)))

    def rotation_status(self, key_set: str, region: str) -> Outcome:
        """GetKeyRotationStatus of the key: ``response["RotationEnabled"]`` or the error."""
        try:
            resp = self.clients[region].get_key_rotation_status(KeyId=self.ref(key_set, region))
        except NotImplementedError as exc:
            return Outcome("NotImplemented", str(exc), not_implemented=True)
        except Exception as exc:
            return self._failure(exc, "GetKeyRotationStatus")
        self.answered.add("GetKeyRotationStatus")
        return Outcome(response={"RotationEnabled": resp.get("KeyRotationEnabled")})

    def describe(self, key_set: str, region: str) -> dict[str, Any] | None:
        """What DescribeKey shows for that key (:func:`view_of`), or None for NotFoundException.
        Any other failure is shown as ``{"DescribeKeyError": ...}``, a view no state allows."""
        try:
            resp = self.clients[region].describe_key(KeyId=self.ref(key_set, region))
        except Exception as exc:
            outcome = self._failure(exc, "DescribeKey")
            if outcome.error == "NotFoundException":
                return None
            return {"DescribeKeyError": outcome.error, "message": outcome.message}
        if not isinstance(resp, Mapping) or not isinstance(resp.get("KeyMetadata"), Mapping):
            raise EndpointError("the endpoint answered DescribeKey without KeyMetadata: not KMS")
        return view_of(resp["KeyMetadata"])

    def _failure(self, exc: Exception, operation: str) -> Outcome:
        """A refused call as an Outcome; an endpoint that cannot be reached is an EndpointError."""
        from botocore.exceptions import BotoCoreError, ClientError

        if isinstance(exc, ClientError):
            err = exc.response.get("Error", {})
            code, message = str(err.get("Code", "")), str(err.get("Message", ""))
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            crashed = status is not None and status >= 500 and not code[:1].isalpha()
            if crashed and operation in self.answered:
                # An HTTP 500 page from an operation that has answered in KMS JSON before: a
                # crash (moto_server's KeyError on an ARN), not a missing operation.
                return Outcome("InternalFailure", f"HTTP {status}")
            if crashed:
                return Outcome("NotImplemented", f"HTTP {status} {PAGE}", not_implemented=True)
            if is_not_implemented(code, status, message):
                return Outcome("NotImplemented", self.redact(message)[:200], not_implemented=True)
            self.answered.add(operation)
            return Outcome(normalise_error(code), self.redact(message))
        if isinstance(exc, BotoCoreError):
            raise EndpointError(str(exc).splitlines()[0]) from None
        # An in-process endpoint (moto's mock_aws) that crashes: what a server answers with 500.
        return Outcome("InternalFailure", self.redact(f"{type(exc).__name__}: {exc}"))

    def redact(self, text: str) -> str:
        """Messages name ARNs and key IDs, which differ on every run: name the key set instead,
        so that the same seed gives the same report."""
        for key_set, arn in sorted(self.arns.items()):
            key_id = arn.rsplit("/", 1)[-1]
            text = re.sub(
                rf"arn:[^\s:]+:kms:([a-z0-9-]+):\d+:key/{re.escape(key_id)}",
                rf"<{key_set}@\1>",
                text,
            )
            text = text.replace(key_id, f"<{key_set}>")
        for region, arn in sorted(self.single_region.items()):  # the single-region-key probe's
            text = text.replace(arn, f"<single-Region key@{region}>")
            text = text.replace(arn.rsplit("/", 1)[-1], "<single-Region key>")
        return text


def _other_region(region: str, regions: list[str]) -> str:
    others = [r for r in regions if r != region]
    return others[0] if others else ("eu-west-1" if region != "eu-west-1" else "us-east-1")


def _response_fields(call: Call, data: Mapping[str, Any], arn: str) -> dict[str, Any]:
    """The response fields §3 documents and the runner checks (see model.conformance's
    expected_response), some as derived facts: the key ID's format, the KeyId being the ARN."""
    action = call.action
    out: dict[str, Any] = {}
    if action in ("CreateKey", "ReplicateKey", "ScheduleKeyDeletion") and data.get("KeyState"):
        out["KeyState"] = data["KeyState"]
    if action in ("CreateKey", "ReplicateKey"):
        out["MultiRegionKeyType"] = (data.get("MultiRegionConfiguration") or {}).get(
            "MultiRegionKeyType"
        )
        out["KeyIdFormat"] = bool(KEY_ID.fullmatch(str(data.get("KeyId", ""))))
    if action == "ReplicateKey":
        out["ReplicaPolicyPresent"] = isinstance(data.get("ReplicaPolicy"), str) and bool(
            data.get("ReplicaPolicy")
        )
        out["ReplicaTags"] = sorted(
            (str(t.get("TagKey")), str(t.get("TagValue"))) for t in data.get("ReplicaTags") or []
        )
        out["Description"] = data.get("Description", "")
        if "PolicyOutcome" in data:
            out["ReplicaPolicy"] = data["PolicyOutcome"]
    if action == "ScheduleKeyDeletion":
        out["HasDeletionDate"] = data.get("DeletionDate") is not None
    if action in ("ScheduleKeyDeletion", "CancelKeyDeletion"):
        out["KeyIdIsArn"] = data.get("KeyId") == arn
    if "PlaintextMatches" in data:
        out["PlaintextMatches"] = data["PlaintextMatches"]
    return out


def boto3_clients(regions: tuple[str, ...], endpoint_url: str | None) -> dict[str, Any]:
    """One KMS client per Region; no retries and short timeouts, so a dead endpoint fails fast
    and a refused call is seen once, as it was answered."""
    import boto3
    from botocore.config import Config

    config = Config(
        retries={"total_max_attempts": 1, "mode": "standard"}, connect_timeout=3, read_timeout=30
    )
    return {
        r: boto3.client(
            "kms",
            region_name=r,
            endpoint_url=endpoint_url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=config,
        )
        for r in regions
    }


def check_reachable(clients: Mapping[str, Any], url: str) -> None:
    """One cheap call before any scenario, so a wrong URL is one clear line, not a divergence."""
    from botocore.exceptions import BotoCoreError, ClientError

    region, client = next(iter(clients.items()))
    try:
        answer = client.list_keys(Limit=1)
    except BotoCoreError as exc:
        raise EndpointError(
            f"cannot reach KMS endpoint {url}: {str(exc).splitlines()[0]}"
        ) from None
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "?")
        raise EndpointError(f"KMS endpoint {url} refused ListKeys in {region}: {code}") from None
    if not isinstance(answer, Mapping) or not isinstance(answer.get("Keys"), list):
        raise EndpointError(
            f"{url} is not a KMS endpoint: ListKeys answered without a Keys list "
            "(the body is not KMS JSON)"
        )
