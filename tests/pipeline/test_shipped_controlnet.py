"""The shipped layout ControlNet belongs to the shipped default model and steers it."""

import numpy as np

from pixeldrift.pipeline import DEFAULT_MODEL_DIR, load_model
from pixeldrift.pipeline.controlnet_folder import load_controlnet

SHIPPED = DEFAULT_MODEL_DIR.parent / "cn-layout"


def test_the_shipped_layout_controlnet_was_trained_on_the_shipped_default_model():
    # Retraining the default without retraining this ControlNet fails here, naming both models.
    control = load_controlnet(SHIPPED)
    assert control.kind == "layout"
    control.check_base(load_model(DEFAULT_MODEL_DIR))


def test_its_zero_convolutions_learned_something():
    control = load_controlnet(SHIPPED)
    zero_convs = [p for name, p in control.net.named_parameters() if "zero" in name]
    assert zero_convs and max(float(p.abs().max()) for p in zero_convs) > 1e-3
    assert np.isfinite(sum(float(p.sum()) for p in control.net.parameters()))
