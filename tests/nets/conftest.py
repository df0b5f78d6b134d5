"""Shared set-up for the network tests."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _single_thread(one_thread):
    """Every test here on one thread (tests/conftest.py says why)."""
