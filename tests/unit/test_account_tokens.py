"""Account tokens: sealing, and how long a link says it works."""

from __future__ import annotations

from datetime import timedelta

from specialistly.core.account_tokens import TokenSeal, digest
from specialistly.features.account_mail import human
from specialistly.features.outgoing import _filled


def test_a_sealed_token_opens_only_with_the_same_secret() -> None:
    seal = TokenSeal("a" * 32)
    sealed = seal.seal("the-token")
    assert "the-token" not in sealed
    assert seal.seal("the-token") != sealed  # a fresh nonce each time
    assert TokenSeal("a" * 32).unseal(sealed) == "the-token"
    assert TokenSeal("b" * 32).unseal(sealed) is None


def test_tokens_are_stored_as_digests() -> None:
    assert digest("abc") == digest("abc") != digest("abd")
    assert "abc" not in digest("abc")


def test_link_lifetimes_read_naturally() -> None:
    assert human(timedelta(minutes=30)) == "30 minutes"
    assert human(timedelta(hours=1)) == "1 hour"
    assert human(timedelta(days=2)) == "2 days"
    assert human(timedelta(minutes=90)) == "90 minutes"


def test_placeholders_are_filled_in_the_message_only() -> None:
    assert _filled("open https://x/r?token=PH now", {"PH": "s3cret"}) == (
        "open https://x/r?token=s3cret now"
    )
