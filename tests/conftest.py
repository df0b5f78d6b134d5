"""Fixtures shared by every test folder."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture
def one_thread():
    """Run a test on one torch thread, then restore the caller's setting.

    Test networks are tiny and gain little from a second thread, while on a shared
    2-core machine a busy neighbour stalls 2-thread OpenMP regions (spin-waiting) by
    up to 100x; one thread keeps run times predictable. Folders opt in from their
    conftest.py with an autouse fixture that requests this one.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
