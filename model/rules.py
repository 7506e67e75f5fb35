"""The documented tables the KMS model is built from: key states, exceptions, the key-state matrix.

Everything here is transcribed from docs/semantics.md (§4 "Key-state matrix", KS Dec-2022,
and §3), so that the action definitions in :mod:`mrkcheck.model.kms` can say "refuse unless the
key state allows ReplicateKey" and the table decides which exception each state gets.
"""

from __future__ import annotations

from enum import IntEnum


class KeyState(IntEnum):
    """The KMS key states that apply to multi-Region keys (``Unavailable`` never does: §1)."""

    Absent = 0  # no key of this set in this Region (never created, or deleted)
    Creating = 1
    Enabled = 2
    Disabled = 3
    PendingImport = 4
    PendingDeletion = 5
    PendingReplicaDeletion = 6
    Updating = 7


class Role(IntEnum):
    """``MultiRegionKeyType``; NONE where no key exists."""

    NONE = 0
    PRIMARY = 1
    REPLICA = 2


class Origin(IntEnum):
    """Key material origin, fixed at CreateKey and shared by the whole set."""

    AWS_KMS = 0
    EXTERNAL = 1


# Exceptions, by their botocore names.
NOT_FOUND = "NotFoundException"
DISABLED = "DisabledException"
INVALID_STATE = "KMSInvalidStateException"
UNSUPPORTED = "UnsupportedOperationException"
ALREADY_EXISTS = "AlreadyExistsException"
LIMIT_EXCEEDED = "LimitExceededException"
INVALID_CIPHERTEXT = "InvalidCiphertextException"
INCORRECT_KEY_MATERIAL = "IncorrectKeyMaterialException"

# §4 footnotes: the exception each numbered failure raises.
FOOTNOTE = {
    1: DISABLED,  # "<ARN> is disabled."
    3: INVALID_STATE,  # "... is pending deletion (or pending replica deletion)." (X2/3: we pick 3)
    4: INVALID_STATE,  # "... is not pending deletion (or pending replica deletion)."
    5: INVALID_STATE,  # "... is pending import."
    6: UNSUPPORTED,  # origin EXTERNAL
    8: INVALID_STATE,  # key has imported material
    14: INVALID_STATE,  # "<ARN> is creating."
    15: INVALID_STATE,  # "<ARN> is updating."
}

OK = 0  # the operation is allowed in that key state

_COLUMNS = (
    KeyState.Enabled,
    KeyState.Disabled,
    KeyState.PendingDeletion,
    KeyState.PendingReplicaDeletion,
    KeyState.PendingImport,
    KeyState.Creating,
    KeyState.Updating,
)


def _row(*cells: int) -> dict[KeyState, int]:
    """One row of the §4 matrix: a footnote number (or OK) per state, in the table's column order
    (Enabled, Disabled, PendingDeletion, PendingReplicaDeletion, PendingImport, Creating, Updating)."""
    return dict(zip(_COLUMNS, cells, strict=True))


# The key-state matrix (§4). Origin-dependent cells (?7, ?9) are decided by the origin guards of
# the actions themselves, so here they read OK.
KEY_STATE_MATRIX: dict[str, dict[KeyState, int]] = {
    "ReplicateKey": _row(OK, 1, 3, 3, 5, 14, 15),
    "UpdatePrimaryRegion": _row(OK, 1, 3, 3, 5, 14, 15),  # Updating: Q1 (UPD wins over KS)
    "ScheduleKeyDeletion": _row(OK, OK, 3, 3, OK, OK, 15),
    "CancelKeyDeletion": _row(4, 4, OK, OK, 4, 4, 4),
    "EnableKey": _row(OK, OK, 3, 3, 5, 14, 15),
    "DisableKey": _row(OK, OK, 3, 3, 5, 14, 15),
    "EnableKeyRotation": _row(OK, 1, 3, 3, 6, 14, OK),
    "DisableKeyRotation": _row(OK, 1, 3, 3, 6, 14, OK),
    "RotateKeyOnDemand": _row(OK, 1, 3, 3, 6, 14, OK),  # Q10: copied from EnableKeyRotation
    "ImportKeyMaterial": _row(OK, OK, 8, 8, OK, 14, OK),
    "DeleteImportedKeyMaterial": _row(OK, OK, OK, OK, OK, 14, 15),
    "Encrypt": _row(OK, 1, 3, 3, 5, 14, OK),
    "Decrypt": _row(OK, 1, 3, 3, 5, 14, OK),
}

# Each operation's documented error list (botocore's KMS model, 2014-11-01), for S17. The model
# may only ever predict errors from these lists.
_ANY_KEY_CALL = frozenset(
    {NOT_FOUND, "InvalidArnException", "DependencyTimeoutException", "KMSInternalException"}
)
_XKS = frozenset(
    "XksKey" + e
    for e in ("NotFoundException", "AlreadyInUseException", "InvalidConfigurationException")
) | frozenset(
    "XksProxy" + e
    for e in (
        "VpcEndpointServiceNotFoundException",
        "UriUnreachableException",
        "InvalidResponseException",
        "InvalidConfigurationException",
        "VpcEndpointServiceInvalidConfigurationException",
        "UriEndpointInUseException",
        "UriInUseException",
        "IncorrectAuthenticationCredentialException",
    )
)
_ROTATION = _ANY_KEY_CALL | {DISABLED, INVALID_STATE, UNSUPPORTED}
_CRYPTO = _ANY_KEY_CALL - {"InvalidArnException"} | {
    DISABLED,
    INVALID_STATE,
    "KeyUnavailableException",
    "InvalidKeyUsageException",
    "InvalidGrantTokenException",
    "DryRunOperationException",
}
_POLICY_AND_TAGS = {"MalformedPolicyDocumentException", "TagException", LIMIT_EXCEEDED}

API_ERRORS: dict[str, frozenset[str]] = {
    "CreateKey": _ANY_KEY_CALL
    | _POLICY_AND_TAGS
    | _XKS
    | {
        UNSUPPORTED,
        "CustomKeyStoreInvalidStateException",
        "CustomKeyStoreNotFoundException",
        "CloudHsmClusterInvalidException",
    },
    "ReplicateKey": _ANY_KEY_CALL - {"DependencyTimeoutException"}
    | _POLICY_AND_TAGS
    | {ALREADY_EXISTS, DISABLED, INVALID_STATE, UNSUPPORTED},
    "UpdatePrimaryRegion": _ANY_KEY_CALL - {"DependencyTimeoutException"}
    | {DISABLED, INVALID_STATE, UNSUPPORTED},
    "ScheduleKeyDeletion": _ANY_KEY_CALL | {INVALID_STATE},
    "CancelKeyDeletion": _ANY_KEY_CALL | {INVALID_STATE},
    "EnableKey": _ANY_KEY_CALL | {INVALID_STATE, LIMIT_EXCEEDED},
    "DisableKey": _ANY_KEY_CALL | {INVALID_STATE},
    "EnableKeyRotation": _ROTATION,
    "DisableKeyRotation": _ROTATION,
    "RotateKeyOnDemand": _ROTATION | {LIMIT_EXCEEDED, "ConflictException"},
    "ImportKeyMaterial": _ANY_KEY_CALL
    | {
        UNSUPPORTED,
        INVALID_CIPHERTEXT,
        INVALID_STATE,
        INCORRECT_KEY_MATERIAL,
        "ExpiredImportTokenException",
        "InvalidImportTokenException",
    },
    "DeleteImportedKeyMaterial": _ANY_KEY_CALL | {UNSUPPORTED, INVALID_STATE},
    "Encrypt": _CRYPTO,
    "Decrypt": _CRYPTO | {INVALID_CIPHERTEXT, "IncorrectKeyException"},
}
