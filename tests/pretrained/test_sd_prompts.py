"""CLIP prompt encoding: 75-token windows, BREAK, weights, and batches of different lengths."""

import pytest
import torch

from pixeldrift.pretrained import open_model

LONG = " ".join(["red cat"] * 40)  # 80 words of several tokens each: well over 75 tokens


@pytest.fixture(scope="module")
def model(sd1_folder):
    return open_model(sd1_folder)


def test_long_prompt_keeps_every_token_in_windows(model):
    tokens = model.prompt_encoder.tokenizers[0](LONG, add_special_tokens=False).input_ids
    assert len(tokens) > 75
    context, _ = model.prompt_encoder.encode([LONG])
    assert context.shape[1] == 77 * ((len(tokens) + 74) // 75)
    first = model.prompt_encoder.tokenizers[0].decode(tokens[:75])
    alone, _ = model.prompt_encoder.encode([first])
    torch.testing.assert_close(context[:, :77], alone, rtol=0, atol=1e-6)


def test_break_starts_a_new_window(model):
    joined, _ = model.prompt_encoder.encode(["a cat BREAK on the mat"])
    first, _ = model.prompt_encoder.encode(["a cat"])
    second, _ = model.prompt_encoder.encode(["on the mat"])
    torch.testing.assert_close(joined, torch.cat([first, second], 1), rtol=0, atol=1e-6)


def test_weights_scale_only_their_tokens_then_restore_the_mean(model):
    plain, _ = model.prompt_encoder.encode(["a cat on the mat"])
    same, _ = model.prompt_encoder.encode(["a (cat:1.0) on the mat"])
    weighted, _ = model.prompt_encoder.encode(["a (cat:1.5) on the mat"])
    assert torch.equal(plain, same)
    assert not torch.allclose(plain, weighted)
    torch.testing.assert_close(weighted.mean(), plain.mean(), rtol=1e-4, atol=1e-6)
    # the states of "a" (token 1) are only rescaled by the mean correction, not by the weight
    ratio = weighted[0, 1] / plain[0, 1]
    torch.testing.assert_close(ratio, torch.full_like(ratio, float(ratio.mean())), rtol=1e-3, atol=1e-4)


def test_prompt_and_negative_of_different_lengths_batch_together(model):
    cond, uncond = model.encode_prompts(["a cat"], [LONG])
    assert cond["context"].shape == uncond["context"].shape and cond["context"].shape[1] > 77
