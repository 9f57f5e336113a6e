"""The registry of error codes, and errors raised fresh each time."""

from __future__ import annotations

import importlib
import pkgutil
import traceback

import pytest

import specialistly
from specialistly.core.errors import DomainError, ErrorCode, Problem
from specialistly.infra.auth import TokenService
from specialistly.settings import Settings


def test_a_code_outside_the_registry_is_refused() -> None:
    assert Problem("SLOT_TAKEN", "x").code is ErrorCode.SLOT_TAKEN  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="LIMIT_REACHED"):
        Problem("LIMIT_REACHED", "x")  # type: ignore[arg-type]


def test_no_module_holds_a_domain_error_instance() -> None:
    """A shared instance would be raised again and again, its traceback growing each time."""
    shared = []
    for module in pkgutil.walk_packages(specialistly.__path__, "specialistly."):
        loaded = importlib.import_module(module.name)
        shared += [
            f"{module.name}.{name}"
            for name, value in vars(loaded).items()
            if isinstance(value, DomainError)
        ]
    assert shared == []


def _raised(tokens: TokenService) -> DomainError:
    try:
        tokens.verified_claims("not-a-token")
    except DomainError as error:
        return error
    raise AssertionError("the token was accepted")


def test_each_raise_is_a_fresh_error_with_its_own_traceback() -> None:
    tokens = TokenService(Settings(environment="test"))
    first, second = _raised(tokens), _raised(tokens)
    assert first is not second
    assert first.problems[0].code == ErrorCode.TOKEN_INVALID
    assert first.__traceback__ is not second.__traceback__
    # A shared instance would carry the first raise's frames in the second's traceback.
    assert len(traceback.extract_tb(second.__traceback__)) == len(
        traceback.extract_tb(first.__traceback__)
    )
