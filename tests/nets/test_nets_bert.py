"""Our BERT encoder: Hugging Face checkpoint names map onto it, strictly, and it computes what BertModel does."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import save_file

from pixeldrift.nets.bert import BertConfig, load_bert
from pixeldrift.nets.io import WeightsError

TINY = {"vocab_size": 50, "hidden_size": 16, "num_hidden_layers": 2, "num_attention_heads": 4,
        "intermediate_size": 32, "max_position_embeddings": 20, "type_vocab_size": 2, "layer_norm_eps": 1e-12,
        "hidden_act": "gelu", "model_type": "bert"}


def hf_checkpoint(prefix: str = "") -> dict[str, torch.Tensor]:
    """Random weights under the names a transformers BertModel saves (with the pooler)."""
    width, inner = TINY["hidden_size"], TINY["intermediate_size"]
    shapes = {"embeddings.word_embeddings.weight": (TINY["vocab_size"], width),
              "embeddings.position_embeddings.weight": (TINY["max_position_embeddings"], width),
              "embeddings.token_type_embeddings.weight": (TINY["type_vocab_size"], width),
              "embeddings.LayerNorm.weight": (width,), "embeddings.LayerNorm.bias": (width,),
              "pooler.dense.weight": (width, width), "pooler.dense.bias": (width,)}
    for i in range(TINY["num_hidden_layers"]):
        layer = f"encoder.layer.{i}."
        for name in ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"):
            shapes |= {layer + name + ".weight": (width, width), layer + name + ".bias": (width,)}
        shapes |= {layer + "intermediate.dense.weight": (inner, width), layer + "intermediate.dense.bias": (inner,),
                   layer + "output.dense.weight": (width, inner), layer + "output.dense.bias": (width,)}
        for norm in ("attention.output.LayerNorm", "output.LayerNorm"):
            shapes |= {layer + norm + ".weight": (width,), layer + norm + ".bias": (width,)}
    generator = torch.Generator().manual_seed(0)
    tensors = {prefix + name: torch.randn(shape, generator=generator) for name, shape in shapes.items()}
    tensors[prefix + "embeddings.position_ids"] = torch.arange(TINY["max_position_embeddings"])[None]
    return tensors


def write_model(folder, tensors):
    folder.mkdir(exist_ok=True)
    (folder / "config.json").write_text(json.dumps(TINY))
    save_file(tensors, folder / "model.safetensors")
    return folder


@pytest.mark.parametrize("prefix", ["", "bert."])
def test_every_checkpoint_tensor_lands_in_its_module(tmp_path, prefix):
    tensors = hf_checkpoint(prefix)
    model = load_bert(write_model(tmp_path / "bert", tensors))
    assert model.cfg == BertConfig(**{k: v for k, v in TINY.items() if k not in ("hidden_act", "model_type")})
    assert torch.equal(model.embeddings.word.weight, tensors[prefix + "embeddings.word_embeddings.weight"])
    assert torch.equal(model.layers[1].attention.value.bias,
                       tensors[prefix + "encoder.layer.1.attention.self.value.bias"])
    assert torch.equal(model.layers[0].attention_norm.weight,
                       tensors[prefix + "encoder.layer.0.attention.output.LayerNorm.weight"])
    assert torch.equal(model.layers[1].mlp_out.weight, tensors[prefix + "encoder.layer.1.output.dense.weight"])
    assert not any(p.is_meta for p in model.parameters())


def test_unexpected_and_missing_tensors_are_named(tmp_path):
    tensors = hf_checkpoint()
    tensors["cls.predictions.bias"] = torch.zeros(TINY["vocab_size"])
    del tensors["encoder.layer.1.output.LayerNorm.bias"]
    with pytest.raises(WeightsError, match=r"1 missing keys: layers\.1\.mlp_norm\.bias; "
                                           r"1 unexpected keys: cls\.predictions\.bias"):
        load_bert(write_model(tmp_path / "bert", tensors))


def test_config_lacking_a_size_is_named(tmp_path):
    folder = write_model(tmp_path / "bert", hf_checkpoint())
    (folder / "config.json").write_text(json.dumps({k: v for k, v in TINY.items() if k != "intermediate_size"}))
    with pytest.raises(ValueError, match="lacks BERT sizes: intermediate_size"):
        load_bert(folder)


def test_matches_transformers_bert_model_with_padding(tmp_path):
    transformers = pytest.importorskip("transformers")
    tensors = hf_checkpoint()
    reference = transformers.BertModel(transformers.BertConfig(**TINY)).eval()
    reference.load_state_dict({k: v for k, v in tensors.items() if k != "embeddings.position_ids"}, strict=True)
    model = load_bert(write_model(tmp_path / "bert", tensors))
    input_ids = torch.tensor([[1, 7, 9, 3, 2], [1, 4, 2, 0, 0]])
    mask = input_ids != 0
    with torch.no_grad():
        expected = reference(input_ids=input_ids, attention_mask=mask.long()).last_hidden_state
        states = model(input_ids, mask)
    torch.testing.assert_close(states[mask], expected[mask], atol=1e-5, rtol=1e-5)


def test_load_state_dict_takes_hugging_face_names(tmp_path):
    """A training checkpoint saved while the encoder was transformers' BertModel still loads."""
    tensors = hf_checkpoint()
    model = load_bert(write_model(tmp_path / "bert", tensors))
    wrapper = torch.nn.ModuleDict({"encoder": model})
    shifted = {"encoder." + k: v + 1 for k, v in tensors.items() if k != "embeddings.position_ids"}
    wrapper.load_state_dict(shifted, strict=True)
    assert torch.equal(model.layers[0].mlp_in.bias, tensors["encoder.layer.0.intermediate.dense.bias"] + 1)
    wrapper.load_state_dict(wrapper.state_dict(), strict=True)  # and our own names, of course
