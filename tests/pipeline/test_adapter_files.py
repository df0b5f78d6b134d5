"""pixeldrift's LoRA files (kohya layout, our layers' names) and embeddings (A1111's layout): written, read
back, merged with a weight, refused by name when they do not fit."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from pixeldrift.bounded_files import BadFileError
from pixeldrift.nets.lora_files import LoRAFileError
from pixeldrift.pipeline import GenerationRequest, load_model
from pixeldrift.pipeline.adapter_files import base_of, layer_names, lora_about, read_embedding, save_embedding
from personal_files import lora_file

REQUEST = GenerationRequest("a red circle", steps=3, seed=2, width=32, height=32, sampler="euler")


@pytest.fixture(autouse=True)
def _single_thread(one_thread):
    """One thread (tests/conftest.py says why)."""


def test_the_file_is_kohya_layout_with_alpha_and_a_record_of_the_base(random_model_dir, tmp_path):
    path, model, layers = lora_file(random_model_dir, tmp_path)
    with safe_open(path, "pt") as file:
        keys, metadata = set(file.keys()), file.metadata()
    name = "lora_unet_" + next(iter(layers)).replace(".", "_")
    assert {f"{name}.lora_down.weight", f"{name}.lora_up.weight", f"{name}.alpha"} <= keys
    assert len(keys) == 3 * len(layers) and all(k.startswith("lora_unet_") for k in keys)
    assert metadata["ss_network_dim"] == "2" and metadata["ss_network_alpha"] == "1"
    about = lora_about(path)
    assert about["base"]["denoiser_sha256"] == base_of(load_model(random_model_dir))["denoiser_sha256"]
    assert about["method"] == "test" and about["layers"] == len(layers)


def test_merging_at_a_weight_equals_the_adapted_network_at_that_weight(random_model_dir, tmp_path):
    path, adapted, layers = lora_file(random_model_dir, tmp_path)
    for layer in layers.values():
        layer.alpha *= 0.5  # what a weight of 0.5 does: half the update
    expected = adapted.generate(REQUEST)[0].image
    model = load_model(random_model_dir)
    plain = model.generate(REQUEST)[0].image
    model.load_lora(path, 0.5)
    got = model.generate(REQUEST)[0].image
    assert got.tobytes() != plain.tobytes()
    assert max(abs(a - b) for a, b in zip(got.tobytes(), expected.tobytes())) <= 1
    model.unload_loras()
    assert model.generate(REQUEST)[0].image.tobytes() == plain.tobytes()


def test_every_layer_answers_to_its_kohya_and_its_peft_name(random_model_dir):
    model = load_model(random_model_dir)
    names = layer_names(model)
    path, layer = names["lora_unet_down_2_attn_self_attn_to_q"]
    assert path == "denoiser.net.down.2.attn.self_attn.to_q"
    assert layer is model.denoiser.net.down[2].attn.self_attn.to_q
    assert names["unet.down.2.attn.self_attn.to_q"][1] is layer
    assert any(name.startswith("lora_te_") for name in names)


def test_files_that_do_not_fit_are_refused_by_name_and_change_nothing(random_model_dir, tmp_path):
    model = load_model(random_model_dir)
    plain = model.generate(REQUEST)[0].image
    bad = {"unknown": ({"lora_unet_nowhere.lora_down.weight": torch.zeros(2, 4),
                        "lora_unet_nowhere.lora_up.weight": torch.zeros(4, 2)}, "1 of its 1 layers are not in this"),
           "shape": ({"lora_unet_down_2_attn_self_attn_to_q.lora_down.weight": torch.zeros(2, 5),
                      "lora_unet_down_2_attn_self_attn_to_q.lora_up.weight": torch.zeros(64, 2)}, "do not fit"),
           "rank0": ({"lora_unet_conv_in.lora_down.weight": torch.zeros(0, 4),
                      "lora_unet_conv_in.lora_up.weight": torch.zeros(32, 0)}, "rank 0")}
    for name, (tensors, message) in bad.items():
        save_file(tensors, tmp_path / f"{name}.safetensors")
        with pytest.raises(LoRAFileError, match=f"{name}.safetensors: .*{message}"):
            model.load_lora(tmp_path / f"{name}.safetensors")
    (tmp_path / "pickle.pt").write_bytes(b"not read")
    with pytest.raises(LoRAFileError, match="must be .safetensors"):
        model.load_lora(tmp_path / "pickle.pt")
    with pytest.raises(ValueError, match="scale must be a number"):
        model.load_lora(tmp_path / "unknown.safetensors", float("inf"))
    assert model.generate(REQUEST)[0].image.tobytes() == plain.tobytes() and not model.loras


def test_an_embedding_file_holds_one_vector_and_its_word(tmp_path):
    path = save_embedding(tmp_path / "x.safetensors", "sks", torch.arange(384.0), {"base": {"name": "m"}})
    with safe_open(path, "pt") as file:
        assert list(file.keys()) == ["emb_params"] and file.get_tensor("emb_params").shape == (1, 384)
        assert json.loads(file.metadata()["pixeldrift"])["token"] == "sks"
    token, vector = read_embedding(path)
    assert token == "sks" and torch.equal(vector, torch.arange(384.0))
    save_file({"emb_params": torch.zeros(1, 384)}, tmp_path / "Heart.safetensors")
    assert read_embedding(tmp_path / "Heart.safetensors")[0] == "heart"  # A1111: the word is the file's name
    save_file({"emb_params": torch.zeros(2, 384)}, tmp_path / "two.safetensors")
    with pytest.raises(BadFileError, match="two.safetensors: emb_params must be one finite float vector"):
        read_embedding(tmp_path / "two.safetensors")
    save_file({"string_to_param": torch.zeros(1, 384)}, tmp_path / "other.safetensors")
    with pytest.raises(BadFileError, match="holds one tensor 'emb_params'"):
        read_embedding(tmp_path / "other.safetensors")


def test_an_embedding_needs_the_minilm_encoder(random_model_dir, tmp_path):
    path = save_embedding(tmp_path / "x.safetensors", "sks", torch.zeros(384))
    with pytest.raises(ValueError, match="embeddings need a model with the MiniLM text encoder"):
        load_model(random_model_dir).load_embedding(path)
