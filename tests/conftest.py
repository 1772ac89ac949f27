"""Shared fixtures. Reference-case loading lives in tests/refcases.py."""

from __future__ import annotations

import pytest

from refcases import reference_case


@pytest.fixture
def ref():
    return reference_case
