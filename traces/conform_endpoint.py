"""The endpoint side of ``mrkcheck conform``: model action instances as boto3 KMS calls.

A model key set (``k1``...) stands for one key ID; its related key in Region ``r`` is the same ARN
with the Region replaced (§1: related ARNs differ only in the Region). This module turns an action
instance into that call on the Region's client, and a call's result or a DescribeKey response into
plain data (:class:`Outcome`, :func:`view_of`) that the runner compares with the model. It knows
nothing of the model's state: the runner decides what was expected.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

PLAINTEXT = b"mrkcheck conformance"
PENDING_WINDOW_DAYS = 7  # the shortest documented window (§3.4), so a real run cleans up soonest
UNKNOWN_KEY_ID = "mrk-00000000000000000000000000000000"  # for calls on a key set never created
UNKNOWN_ACCOUNT = "111122223333"
# Actions the runner can drive. ImportKeyMaterial is left out on purpose: it needs
# GetParametersForImport and RSA wrapping of real material (see docs/conformance.md).
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
    """The endpoint cannot be used at all (unreachable, credentials refused); one line for the CLI."""


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


def is_not_implemented(code: str, status: int | None, message: str) -> bool:
    """moto and friends say "not implemented" in several ways: 501, a code, or only a message."""
    text = f"{code} {message}".lower()
    return status == 501 or "notimplemented" in text.replace(" ", "") or "not implemented" in text


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


_Call = Callable[[Any, str, Mapping[str, str], "Endpoint"], Mapping[str, Any]]


def _create(client: Any, arn: str, p: Mapping[str, str], ep: Endpoint) -> Mapping[str, Any]:
    resp = client.create_key(MultiRegion=True, Origin=p["origin"], Description="mrkcheck conform")
    return resp["KeyMetadata"]


def _encrypt(client: Any, arn: str, p: Mapping[str, str], ep: Endpoint) -> Mapping[str, Any]:
    resp = client.encrypt(KeyId=arn, Plaintext=PLAINTEXT)
    ep.ciphertexts[p["s"]] = resp["CiphertextBlob"]
    return {}


def _decrypt(client: Any, arn: str, p: Mapping[str, str], ep: Endpoint) -> Mapping[str, Any]:
    # KeyId names the related key in this Region, as the AWS Encryption SDK does (MRK, §3.10).
    resp = client.decrypt(CiphertextBlob=ep.ciphertexts[p["s"]], KeyId=arn)
    return {"PlaintextMatches": resp.get("Plaintext") == PLAINTEXT}


def _simple(method: str, **extra: Any) -> _Call:
    def call(client: Any, arn: str, p: Mapping[str, str], ep: Endpoint) -> Mapping[str, Any]:
        return getattr(client, method)(KeyId=arn, **extra)

    return call


CALLS: dict[str, _Call] = {
    "CreateKey": _create,
    "ReplicateKey": lambda c, arn, p, ep: c.replicate_key(KeyId=arn, ReplicaRegion=p["replica"])[
        "ReplicaKeyMetadata"
    ],
    "UpdatePrimaryRegion": lambda c, arn, p, ep: c.update_primary_region(
        KeyId=arn, PrimaryRegion=p["primary"]
    ),
    "ScheduleKeyDeletion": _simple(
        "schedule_key_deletion", PendingWindowInDays=PENDING_WINDOW_DAYS
    ),
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


@dataclass
class Endpoint:
    """One KMS endpoint, reached through one boto3-like client per Region, and the ARNs it gave
    the model's key sets. ``clients`` may be real boto3 clients or the model-backed fakes."""

    clients: Mapping[str, Any]
    key_ref: str = "arn"  # how calls name a key: "arn" (the related key's ARN) or "id" (key ID)
    arns: dict[str, str] = field(default_factory=dict)  # key set -> ARN of its first key
    ciphertexts: dict[str, bytes] = field(default_factory=dict)  # key set -> newest ciphertext

    def arn(self, key_set: str, region: str) -> str:
        """The ARN of the key set's key in ``region``; a well-formed unknown one if never created
        (the model then predicts NotFoundException, and so should the endpoint)."""
        if key_set in self.arns:
            return arn_in_region(self.arns[key_set], region)
        account = next(iter(self.arns.values())).split(":")[4] if self.arns else UNKNOWN_ACCOUNT
        return f"arn:aws:kms:{region}:{account}:key/{UNKNOWN_KEY_ID}"

    def ref(self, key_set: str, region: str) -> str:
        """How calls in ``region`` name the key: its ARN, or the bare key ID (same in every
        Region; the client's Region picks the related key)."""
        arn = self.arn(key_set, region)
        return arn if self.key_ref == "arn" else arn.rsplit("/", 1)[-1]

    def call(self, action: str, params: Mapping[str, str]) -> Outcome:
        """Make the call for one model action instance and say what happened."""
        region = params["r"]
        arn = self.ref(params["s"], region)
        try:
            data = CALLS[action](self.clients[region], arn, params, self)
        except NotImplementedError as exc:  # moto in-process raises it straight through
            return Outcome("NotImplemented", str(exc), not_implemented=True)
        except Exception as exc:
            return self._failure(exc)
        if action == "CreateKey":
            self.arns[params["s"]] = data["Arn"]
        return Outcome(response=_response_fields(action, data))

    def describe(self, key_set: str, region: str) -> dict[str, Any] | None:
        """What DescribeKey shows for that key (:func:`view_of`), or None for NotFoundException.
        Any other failure is shown as ``{"DescribeKeyError": ...}``, a view no state allows."""
        try:
            resp = self.clients[region].describe_key(KeyId=self.ref(key_set, region))
        except Exception as exc:
            outcome = self._failure(exc)
            if outcome.error == "NotFoundException":
                return None
            return {"DescribeKeyError": outcome.error, "message": outcome.message}
        return view_of(resp["KeyMetadata"])

    def _failure(self, exc: Exception) -> Outcome:
        """A refused call as an Outcome; an endpoint that cannot be reached is an EndpointError."""
        from botocore.exceptions import BotoCoreError, ClientError

        if isinstance(exc, ClientError):
            err = exc.response.get("Error", {})
            code, message = str(err.get("Code", "")), str(err.get("Message", ""))
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if is_not_implemented(code, status, message):
                return Outcome("NotImplemented", self.redact(message), not_implemented=True)
            if status is not None and status >= 500 and not code[:1].isalpha():
                # A server that crashed (moto_server: an HTML page, code "500"); moto_server also
                # answers this way for an action it does not implement, so the two look alike.
                return Outcome("InternalFailure", f"HTTP {status}")
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
        return text


def _response_fields(action: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """The response fields §3 documents and the runner checks: the new key's state and type, a
    deletion's state, and whether Decrypt gave the plaintext back."""
    out: dict[str, Any] = {}
    if action in ("CreateKey", "ReplicateKey", "ScheduleKeyDeletion") and data.get("KeyState"):
        out["KeyState"] = data["KeyState"]
    if action in ("CreateKey", "ReplicateKey"):
        out["MultiRegionKeyType"] = (data.get("MultiRegionConfiguration") or {}).get(
            "MultiRegionKeyType"
        )
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
        client.list_keys(Limit=1)
    except BotoCoreError as exc:
        raise EndpointError(
            f"cannot reach KMS endpoint {url}: {str(exc).splitlines()[0]}"
        ) from None
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "?")
        raise EndpointError(f"KMS endpoint {url} refused ListKeys in {region}: {code}") from None
