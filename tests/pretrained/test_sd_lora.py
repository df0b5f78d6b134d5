"""LoRA files change the model exactly as adding their deltas by hand does, and unload restores it."""

import pytest
import torch
from safetensors.torch import save_file

from pixeldrift.pipeline import GenerationRequest
from pixeldrift.pretrained import CheckpointError, open_model
from tiny_sd_models import final_pixels

REQUEST = GenerationRequest("a cat on the mat", steps=3, seed=1, width=32, height=32, sampler="euler")
# layers the test LoRA touches: an attention projection, a ResNet conv (original name), a text-encoder projection
ATTENTION = "down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_q"
CONV = "up_blocks.1.resnets.1.conv1"   # = output_blocks.3.0.in_layers.2 in the original layout (L = 1)
TEXT = "encoder.layers.0.self_attn.q_proj"


def factors(seed: int, out_features: int, in_shape: tuple, rank: int = 2):
    g = torch.Generator().manual_seed(seed)
    down = torch.randn((rank,) + in_shape, generator=g) * 0.3
    up = torch.randn((out_features, rank) + (1,) * (len(in_shape) - 1), generator=g) * 0.3
    return down, up


def kohya_file(model, path, seed=0):
    """A kohya-style LoRA on three layers; returns the file and {layer: (down, up, alpha)}."""
    unet, text = model.unet.get_submodule, model.prompt_encoder.text_encoders[0].get_submodule
    attn, conv, q = unet(ATTENTION).weight, unet(CONV).weight, text(TEXT).weight
    parts = {"lora_unet_" + ATTENTION.replace(".", "_"): (attn, factors(seed, attn.shape[0], (attn.shape[1],)), 1.0),
             "lora_unet_output_blocks_3_0_in_layers_2": (conv, factors(seed + 1, conv.shape[0], conv.shape[1:]), 4.0),
             "lora_te_text_model_" + TEXT.replace(".", "_"): (q, factors(seed + 2, q.shape[0], (q.shape[1],)), 2.0)}
    tensors = {}
    for name, (_, (down, up), alpha) in parts.items():
        tensors.update({f"{name}.lora_down.weight": down, f"{name}.lora_up.weight": up,
                        f"{name}.alpha": torch.tensor(alpha)})
    save_file(tensors, path)
    return path, parts


def pixels(model):
    return final_pixels(model, REQUEST)


def test_lora_equals_the_delta_added_by_hand(sd1_folder, tmp_path):
    with_lora = open_model(sd1_folder)
    path, parts = kohya_file(with_lora, tmp_path / "style.safetensors")
    with_lora.load_lora(path, scale=0.7)
    by_hand = open_model(sd1_folder)
    weights = {"attn": by_hand.unet.get_submodule(ATTENTION).weight, "conv": by_hand.unet.get_submodule(CONV).weight,
               "q": by_hand.prompt_encoder.text_encoders[0].get_submodule(TEXT).weight}
    with torch.no_grad():
        for weight, (_, (down, up), alpha) in zip(weights.values(), parts.values()):
            rank = down.shape[0]
            weight += 0.7 * alpha / rank * torch.einsum("or,ri->oi", up.flatten(1), down.flatten(1)).view_as(weight)
    plain = pixels(open_model(sd1_folder))
    ours, theirs = pixels(with_lora), pixels(by_hand)
    assert (ours - plain).abs().max() > 1e-2, "the LoRA should visibly change the image"
    assert (ours - theirs).abs().max() < 1e-5


def test_unload_restores_the_exact_weights(sd1_folder, tmp_path):
    model = open_model(sd1_folder)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    first, _ = kohya_file(model, tmp_path / "a.safetensors", seed=0)
    second, _ = kohya_file(model, tmp_path / "b.safetensors", seed=5)
    model.load_lora(first, 0.5)
    model.load_lora(second, -1.3)
    assert [scale for _, scale in model.loras] == [0.5, -1.3]
    assert not torch.equal(model.unet.get_submodule(ATTENTION).weight, before[f"unet.{ATTENTION}.weight"])
    model.unload_loras()
    assert model.loras == []
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_peft_layout_gives_the_same_weights_as_kohya(sd1_folder, tmp_path):
    kohya_model, peft_model = open_model(sd1_folder), open_model(sd1_folder)
    path, parts = kohya_file(kohya_model, tmp_path / "k.safetensors")
    kohya_model.load_lora(path)
    names = [f"unet.{ATTENTION}", f"unet.{CONV}", f"text_encoder.text_model.{TEXT}"]
    tensors = {}
    for name, (_, (down, up), alpha) in zip(names, parts.values()):
        tensors.update({f"{name}.lora_A.weight": down, f"{name}.lora_B.weight": up,
                        f"{name}.alpha": torch.tensor(alpha)})
    save_file(tensors, tmp_path / "p.safetensors")
    peft_model.load_lora(tmp_path / "p.safetensors")
    theirs = peft_model.state_dict()
    assert all(torch.equal(theirs[k], v) for k, v in kohya_model.state_dict().items())


def test_lora_for_another_architecture_changes_nothing(sd1_folder, sdxl_folder, tmp_path):
    xl = open_model(sdxl_folder)
    path, _ = kohya_file(xl, tmp_path / "xl.safetensors")   # same layer names, other widths
    model = open_model(sd1_folder)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(CheckpointError, match="xl.safetensors.*do not fit.*another model family"):
        model.load_lora(path)
    save_file({"lora_unet_no_such_layer.lora_down.weight": torch.zeros(2, 4),
               "lora_unet_no_such_layer.lora_up.weight": torch.zeros(4, 2)}, tmp_path / "other.safetensors")
    with pytest.raises(CheckpointError, match="other.safetensors: 1 of its 1 layers are not in this sd1 model"):
        model.load_lora(tmp_path / "other.safetensors")
    assert model.loras == []
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_open_model_applies_loras(sd1_folder, tmp_path):
    reference = open_model(sd1_folder)
    path, _ = kohya_file(reference, tmp_path / "s.safetensors")
    reference.load_lora(path, 0.25)
    model = open_model(sd1_folder, loras=[(path, 0.25)])
    assert all(torch.equal(reference.state_dict()[k], v) for k, v in model.state_dict().items())


@pytest.mark.parametrize("damage", ["rank 0", "int8", "alpha"])
def test_a_broken_lora_is_named_and_changes_nothing(sd1_folder, tmp_path, damage):
    from safetensors.torch import load_file

    model = open_model(sd1_folder)
    path, _ = kohya_file(model, tmp_path / "style.safetensors")
    tensors = load_file(path)
    down = next(k for k in tensors if k.endswith(".lora_down.weight"))
    if damage == "rank 0":
        tensors[down] = torch.zeros(0, *tensors[down].shape[1:])
        tensors[down.replace("lora_down", "lora_up")] = torch.zeros(tensors[down.replace("lora_down", "lora_up")]
                                                                    .shape[0], 0)
    elif damage == "int8":
        tensors[down] = tensors[down].to(torch.int8)
    else:
        tensors[down.replace(".lora_down.weight", ".alpha")] = torch.ones(3)
    save_file(tensors, path)
    before = {k: v.clone() for k, v in model.unet.state_dict().items()}
    with pytest.raises(CheckpointError, match={"rank 0": "style.safetensors: layer .*: rank 0",
                                               "int8": "style.safetensors: layer .*: down is torch.int8",
                                               "alpha": "style.safetensors: layer .*: alpha must be one"}[damage]):
        model.load_lora(path)
    assert all(torch.equal(before[k], v) for k, v in model.unet.state_dict().items())
