"""Real cryptography behind ``mrkcheck serve``'s Encrypt and Decrypt (the ``cryptography`` package).

Why real: a client under test must get ciphertext it cannot read and that only the right keys
open. Every key of a key set (its related multi-Region keys) shares material, as in KMS (§2), so
one AES-256 key is derived per key set and material version (HKDF-SHA256 over a per-server
secret, or over the imported material for an EXTERNAL key). A blob names its key ID and
version and carries an AES-GCM nonce and tag; the encryption context is the associated data. So
ciphertext from one Region decrypts with every related key and fails with any other key, any
other context, any other server secret or any change to a byte.

ImportKeyMaterial's wrapping is real as well: GetParametersForImport hands out an RSA-2048 public
key, and the material is unwrapped with RSAES-OAEP (SHA-1 or SHA-256) as KMS does.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MAGIC = b"MRK1"
KEY_ID_LENGTH = 36  # "mrk-" and 32 hex digits
NONCE_LENGTH = 12
WRAPPING = {"RSAES_OAEP_SHA_1": hashes.SHA1, "RSAES_OAEP_SHA_256": hashes.SHA256}


class BadCiphertext(Exception):
    """Not a blob this server made, or altered, or the wrong context or material."""


@dataclass(frozen=True)
class Blob:
    key_id: str
    version: int
    nonce: bytes
    sealed: bytes


def derive(secret: bytes, key_id: str, version: int) -> bytes:
    """The AES-256 key of one key set's material version."""
    info = f"mrkcheck serve {key_id} v{version}".encode()
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(secret)


def _context(encryption_context: dict[str, str]) -> bytes:
    return repr(sorted(encryption_context.items())).encode("utf-8")


def seal(key: bytes, key_id: str, version: int, plaintext: bytes, context: dict[str, str]) -> bytes:
    nonce = os.urandom(NONCE_LENGTH)
    header = MAGIC + key_id.encode("ascii") + bytes([version])
    return header + nonce + AESGCM(key).encrypt(nonce, plaintext, header + _context(context))


def parse(blob: bytes) -> Blob:
    """The key ID and version a blob names (BadCiphertext if it is not one of ours)."""
    start = len(MAGIC) + KEY_ID_LENGTH + 1
    if len(blob) < start + NONCE_LENGTH + 16 or not blob.startswith(MAGIC):
        raise BadCiphertext("not a ciphertext of this server")
    try:
        key_id = blob[len(MAGIC) : start - 1].decode("ascii")
    except UnicodeDecodeError:
        raise BadCiphertext("not a ciphertext of this server") from None
    return Blob(
        key_id, blob[start - 1], blob[start : start + NONCE_LENGTH], blob[start + NONCE_LENGTH :]
    )


def open_blob(key: bytes, blob: bytes, context: dict[str, str]) -> bytes:
    parsed = parse(blob)
    header = blob[: len(MAGIC) + KEY_ID_LENGTH + 1]
    try:
        return AESGCM(key).decrypt(parsed.nonce, parsed.sealed, header + _context(context))
    except InvalidTag:
        raise BadCiphertext("the ciphertext does not open with this key and context") from None


class Wrapping:
    """One RSA-2048 wrapping key per server (made when first asked for: it takes a moment)."""

    def __init__(self) -> None:
        self._key: rsa.RSAPrivateKey | None = None

    def private(self) -> rsa.RSAPrivateKey:
        if self._key is None:
            self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return self._key

    def public_der(self) -> bytes:
        return (
            self.private()
            .public_key()
            .public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )

    def unwrap(self, wrapped: bytes, algorithm: str) -> bytes:
        hash_type = WRAPPING[algorithm]
        oaep = padding.OAEP(mgf=padding.MGF1(hash_type()), algorithm=hash_type(), label=None)
        try:
            return self.private().decrypt(wrapped, oaep)
        except ValueError:
            raise BadCiphertext(
                "the key material does not unwrap with the import parameters"
            ) from None
