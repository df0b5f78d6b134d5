"""bench/upscale.py's smoke run on a tiny model and a random upscaler: both tables, every row, the true render
as the ceiling."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "upscale.py"


@pytest.fixture(autouse=True)
def _single_thread(one_thread):
    """One thread (tests/conftest.py says why)."""


def test_the_smoke_run_prints_both_tables(acting_upscaler_dir, random_model_dir, capsys):
    spec = importlib.util.spec_from_file_location("bench_upscale", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    bench.main(["--model", str(acting_upscaler_dir), "--base", str(random_model_dir), "--scenes", "2", "--limit", "2",
                "--seeds", "0", "--steps", "1", "--first-steps", "1"])
    out = capsys.readouterr().out
    assert "(a) 2 held-out world scenes: 32-px box reduction -> 64 px" in out
    assert "| true render | 100.00 | 1.000 | 100.0% | 100.0% | - |" in out
    for row in ("| bicubic |", "| lanczos |", "| sr |", "| as drawn | 32 | 32 |", "| hires sr @ 0.3 | 64 | 64 |"):
        assert row in out
    assert "(b) 2 drawings" in out
