"""Tokens encrypted at rest with AES-256-GCM under a list of keys that can rotate.

A ciphertext is ``<key id>.<nonce+ciphertext, base64>``; the key id (the first bytes of
the key's SHA-256) says which key decrypts it, so older keys keep working after a new one
is put first. The first key encrypts.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Sequence

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12


class CipherError(Exception):
    """A ciphertext that no configured key opens, or a bad key."""


def _key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:12]


def _decode_key(text: str) -> bytes:
    try:
        key = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise CipherError("a token key is not base64") from None
    if len(key) != 32:
        raise CipherError("a token key must be 32 bytes (base64 of 32 random bytes)")
    return key


def new_key() -> str:
    """A fresh key in the settings' format."""
    return base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")


class TokenCipher:
    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise CipherError("no token key is configured")
        decoded = [_decode_key(key) for key in keys]
        self._newest = _key_id(decoded[0])
        self._by_id = {_key_id(key): AESGCM(key) for key in decoded}

    @property
    def newest_key_id(self) -> str:
        return self._newest

    def encrypt(self, plaintext: str, *, context: str) -> str:
        """Encrypt, binding the ciphertext to `context` (its owner) so it cannot be moved."""
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._by_id[self._newest].encrypt(nonce, plaintext.encode(), context.encode())
        return f"{self._newest}.{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def decrypt(self, ciphertext: str, *, context: str) -> str:
        key_id, _, body = ciphertext.partition(".")
        aead = self._by_id.get(key_id)
        if aead is None:
            raise CipherError(f"no configured key has the id {key_id}")
        try:
            raw = base64.urlsafe_b64decode(body)
            return aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], context.encode()).decode()
        except Exception:
            raise CipherError("a stored token could not be decrypted") from None

    def is_current(self, ciphertext: str) -> bool:
        return ciphertext.partition(".")[0] == self._newest

    def reencrypt(self, ciphertext: str, *, context: str) -> str:
        return self.encrypt(self.decrypt(ciphertext, context=context), context=context)
