"""Zoom tokens at rest: authenticated encryption bound to their owner, under keys that
rotate (the newest encrypts, every configured one decrypts)."""

from __future__ import annotations

import pytest

from specialistly_zoom.crypto import CipherError, TokenCipher, new_key


def test_a_token_comes_back_only_for_its_owner() -> None:
    cipher = TokenCipher([new_key()])
    sealed = cipher.encrypt("secret-token", context="zoom:a")

    assert "secret-token" not in sealed
    assert cipher.decrypt(sealed, context="zoom:a") == "secret-token"
    with pytest.raises(CipherError):
        cipher.decrypt(sealed, context="zoom:b")  # moved to another specialist


def test_a_tampered_ciphertext_is_refused() -> None:
    cipher = TokenCipher([new_key()])
    sealed = cipher.encrypt("secret-token", context="zoom:a")
    tampered = sealed[:-4] + ("AAAA" if not sealed.endswith("AAAA") else "BBBB")

    with pytest.raises(CipherError):
        cipher.decrypt(tampered, context="zoom:a")


def test_keys_rotate_the_newest_encrypts_and_all_decrypt() -> None:
    old, new = new_key(), new_key()
    before = TokenCipher([old]).encrypt("t", context="c")
    rotated = TokenCipher([new, old])

    assert rotated.decrypt(before, context="c") == "t"
    assert not rotated.is_current(before)
    again = rotated.reencrypt(before, context="c")
    assert rotated.is_current(again)
    assert TokenCipher([new]).decrypt(again, context="c") == "t"
    with pytest.raises(CipherError):
        TokenCipher([new]).decrypt(before, context="c")  # the old key was removed


@pytest.mark.parametrize("key", ["", "not base64!", "c2hvcnQ"])
def test_a_bad_key_is_refused(key: str) -> None:
    with pytest.raises(CipherError):
        TokenCipher([key])
