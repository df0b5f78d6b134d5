"""The shipped consistency model (models/consistency): it loads as its card says, samples with one network call
a step at guidance 1, and its one-step image is the jump from the noise (no second call)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pixeldrift.pipeline import GenerationRequest, load_model

FOLDER = Path(__file__).resolve().parents[2] / "models" / "consistency"


@pytest.fixture(autouse=True)
def _single_thread(one_thread):
    """One thread (tests/conftest.py says why)."""


@pytest.fixture(scope="module")
def model():
    return load_model(FOLDER)


def test_the_folder_is_small_and_samples_as_its_card_says(model):
    assert sum(p.stat().st_size for p in FOLDER.iterdir()) < 6_000_000 and (FOLDER / "README.md").is_file()
    d = model.sampling_defaults
    assert (d.sampler, d.schedule, d.steps, d.guidance) == ("consistency", "flow_even", 2, 1.0)
    assert json.loads((FOLDER / "config.json").read_text())["training"]["method"] == "consistency distillation"


def test_each_step_is_one_network_call_and_more_steps_change_the_image(model):
    calls = []
    hook = model.denoiser.register_forward_hook(lambda module, args, output: calls.append(output.shape[0]))
    try:
        images = {steps: np.asarray(model.generate(GenerationRequest("two green triangles", seed=3,
                                                                     steps=steps))[0].image, int)
                  for steps in (1, 2, 4)}
    finally:
        hook.remove()
    assert calls == [1] * 7  # 1 + 2 + 4 calls of one image each: no unconditional pass at guidance 1
    assert all(image.shape == (64, 64, 3) and np.ptp(image) > 100 for image in images.values())
    assert np.abs(images[1] - images[2]).mean() > 1 and np.abs(images[2] - images[4]).mean() > 1
