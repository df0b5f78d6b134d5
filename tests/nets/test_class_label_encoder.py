"""The class-label encoder: one learned token per class, a no-class token for guidance, clear refusals."""

import pytest
import torch

from pixeldrift.nets.class_label_encoder import (MAX_CLASS_NAME, MAX_CLASSES, ClassLabelEncoder,
                                                 ClassLabelEncoderConfig)


def test_a_class_name_is_one_token_and_the_empty_prompt_the_no_class_token():
    encoder = ClassLabelEncoder(ClassLabelEncoderConfig(classes=("cat", "dog"), width=8))
    encoding = encoder.encode(["dog", " cat ", ""])
    assert encoding.context.shape == (3, 1, 8) and encoding.context_mask.all()
    table = encoder.embed.weight
    assert torch.equal(encoding.context[:, 0], table[[2, 1, 0]])
    assert torch.equal(encoder.encode_empty(2).context[:, 0], table[[0, 0]])
    assert encoder.token_weights([("dog", 1.5)]) == [1.0]


def test_an_unknown_class_is_refused_with_the_model_s_classes():
    encoder = ClassLabelEncoder(ClassLabelEncoderConfig(classes=("cat", "dog")))
    with pytest.raises(ValueError, match="'a red circle' is not a class of this model.*cat, dog"):
        encoder.encode("a red circle")
    with pytest.raises(ValueError, match="one token per prompt"):
        encoder.encode("cat", pad_to=4)


@pytest.mark.parametrize("classes, message", [
    ((), "1 to 1000 class names, got 0"),
    (tuple(f"c{i}" for i in range(MAX_CLASSES + 1)), "1 to 1000 class names, got 1001"),
    (("x" * (MAX_CLASS_NAME + 1),), "has 101 characters"),
    (("cat", ""), "has 0 characters"),
    ((" cat",), "begins or ends with a space"),
    (("c\nat",), "control"),
    (("cat", "cat"), "distinct; repeated: cat"),
    (("cat", 3), "is not text"),
])
def test_bad_class_lists_are_refused(classes, message):
    with pytest.raises(ValueError, match=message):
        ClassLabelEncoderConfig(classes=classes)


def test_the_config_round_trips_through_json_and_a_model_config_picks_it():
    from pixeldrift.nets import UNET_PRESETS
    from pixeldrift.pipeline import ModelConfig

    config = ClassLabelEncoderConfig(classes=("circle", "square"), width=64)
    assert ClassLabelEncoderConfig.from_json(config.to_json()) == config
    model = ModelConfig(name="cc", image_size=32, text_encoder=config, vae=None,
                        denoiser=UNET_PRESETS["tiny"].__class__(**{**UNET_PRESETS["tiny"].to_dict(),
                                                                  "in_channels": 3, "out_channels": 3,
                                                                  "channel_mults": (1, 2)}))
    assert ModelConfig.from_dict(model.to_dict()).text_encoder == config
