"""Byte tokenizer and text encoder: any text, truncation reported, padding ignored, the empty prompt."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from pixeldrift.nets import TEXT_ENCODER_PRESETS, ByteTokenizer, TextEncoder, TextEncoding
from pixeldrift.nets.tokenizer import BOS_ID, EOS_ID, PAD_ID


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_any_unicode_text_round_trips(text):
    tokenizer = ByteTokenizer(max_length=256)
    batch = tokenizer.encode([text])
    assert not batch.any_truncated
    assert tokenizer.decode(batch.ids[0]) == text


def test_layout_is_bos_bytes_eos_then_padding():
    batch = ByteTokenizer(max_length=16).encode(["ab", "héllo"])
    assert batch.ids[0].tolist() == [BOS_ID, 97, 98, EOS_ID] + [PAD_ID] * 4  # padded to héllo: 6 bytes + 2
    assert batch.ids[1, 1:7].tolist() == list("héllo".encode())  # é is two bytes
    assert batch.mask.tolist()[0] == [True] * 4 + [False] * 4


@settings(max_examples=100, deadline=None)
@given(st.text(min_size=1, max_size=40), st.integers(min_value=3, max_value=20))
def test_truncation_is_reported_and_never_splits_a_character(text, max_length):
    tokenizer = ByteTokenizer(max_length=max_length)
    batch = tokenizer.encode(text)
    kept = tokenizer.decode(batch.ids[0])
    assert text.startswith(kept)  # a whole-character prefix, no replacement characters
    assert batch.truncated == (len(text.encode()) > max_length - 2,)
    assert batch.ids.shape[1] <= max_length


def test_bad_tokenizer_inputs_are_named():
    tokenizer = ByteTokenizer(max_length=8)
    with pytest.raises(TypeError, match="texts must be str"):
        tokenizer.encode(["ok", 3])
    with pytest.raises(ValueError, match="pad_to=4 must be between"):
        tokenizer.encode(["hello"], pad_to=4)
    with pytest.raises(ValueError, match="outside the vocabulary"):
        tokenizer.decode([1000])
    with pytest.raises(ValueError, match="max_length must be at least 3"):
        ByteTokenizer(max_length=2)


@pytest.fixture(scope="module")
def encoder() -> TextEncoder:
    torch.manual_seed(0)
    return TextEncoder(TEXT_ENCODER_PRESETS["tiny"]).eval()


def test_encoder_returns_hidden_states_per_token_and_the_mask(encoder):
    with torch.no_grad():
        enc = encoder.encode(["three red circles", "a", ""])
    n, length, width = enc.context.shape
    assert (n, width) == (3, encoder.output_dim) and length == len("three red circles") + 2
    assert enc.context_mask.sum(1).tolist() == [19, 3, 2]
    assert torch.equal(enc.context[~enc.context_mask], torch.zeros(int((~enc.context_mask).sum()), width))
    assert sum(p.numel() for p in encoder.parameters()) < 1_000_000


def test_padding_length_and_batch_mates_do_not_change_a_prompt(encoder):
    with torch.no_grad():
        alone = encoder.encode(["a blue star"])
        padded = encoder.encode(["a blue star", "a much longer prompt about a clock"], pad_to=50)
    real = alone.context_mask[0]
    torch.testing.assert_close(padded.context[0, : real.numel()], alone.context[0], atol=1e-5, rtol=1e-5)
    assert not padded.context_mask[0, real.numel():].any()


def test_empty_prompt_is_the_unconditional_encoding(encoder):
    with torch.no_grad():
        empty = encoder.encode_empty(2, pad_to=6)
        direct = encoder.encode(["", ""], pad_to=6)
        other = encoder.encode(["x", "x"], pad_to=6)
    torch.testing.assert_close(empty.context, direct.context)
    assert empty.context_mask[:, :2].all() and not empty.context_mask[:, 2:].any()
    assert not torch.allclose(empty.context, other.context)


def test_concat_pads_cond_and_uncond_to_one_length(encoder):
    with torch.no_grad():
        cond = encoder.encode(["two green triangles"])
        both = TextEncoding.concat([cond, encoder.encode_empty(1)])
    assert both.context.shape == (2, cond.context.shape[1], encoder.output_dim)
    assert both.context_mask[1].sum() == 2 and both.as_cond()["context"] is both.context


def test_truncation_is_reported_by_the_encoder(encoder):
    with torch.no_grad():
        enc = encoder.encode(["x" * 500, "short"])
    assert enc.truncated == (True, False) and enc.context.shape[1] == encoder.cfg.max_length


@pytest.mark.parametrize("preset", TEXT_ENCODER_PRESETS)
def test_every_preset_builds(preset):
    cfg = TEXT_ENCODER_PRESETS[preset]
    with torch.device("meta"):
        enc = TextEncoder(cfg).encode(["hello", ""])
    assert enc.context.shape == (2, 7, cfg.width)
