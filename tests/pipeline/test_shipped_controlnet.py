"""The shipped ControlNets belong to the shipped default model and steer it."""

import numpy as np
import pytest

from pixeldrift.pipeline import DEFAULT_MODEL_DIR, load_model
from pixeldrift.pipeline.controlnet_folder import load_controlnet

SHIPPED = ("layout", "edges")  # models/cn-KIND


@pytest.mark.parametrize("kind", SHIPPED)
def test_each_shipped_controlnet_was_trained_on_the_shipped_default_model(kind):
    # Retraining the default without retraining the ControlNets fails here, naming both models.
    control = load_controlnet(DEFAULT_MODEL_DIR.parent / f"cn-{kind}")
    assert control.kind == kind
    control.check_base(load_model(DEFAULT_MODEL_DIR))


@pytest.mark.parametrize("kind", SHIPPED)
def test_its_zero_convolutions_learned_something(kind):
    control = load_controlnet(DEFAULT_MODEL_DIR.parent / f"cn-{kind}")
    zero_convs = [p for name, p in control.net.named_parameters() if "zero" in name]
    assert zero_convs and max(float(p.abs().max()) for p in zero_convs) > 1e-3
    assert np.isfinite(sum(float(p.sum()) for p in control.net.parameters()))
