"""Shared set-up for the network tests."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    """Run each test on one thread, then restore the caller's setting.

    The test networks are tiny and gain little from a second thread, while on a shared
    2-core machine a busy neighbour stalls 2-thread OpenMP regions (spin-waiting) by
    up to 100x; one thread keeps this folder's run time predictable.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
