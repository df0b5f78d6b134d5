"""Attend-and-Excite: subject tokens, the neglect loss, the attention probe and the guidance wrapper."""

import pytest
import torch

from pixeldrift.nets.attention import MultiHeadAttention
from pixeldrift.pipeline import GenerationRequest, load_model
from pixeldrift.pipeline.attend_and_excite import AttendAndExciteDenoiser, neglect_loss, subject_positions


@pytest.fixture(scope="module")
def default_model():
    torch.manual_seed(0)
    return load_model()


def test_subject_positions_are_the_shape_words_singular_and_plural(default_model):
    tokenizer = default_model.text_encoder.tokenizer
    prompt = "two green crosses to the right of a purple triangle"
    tokens = tokenizer.encode(prompt).tokens
    assert [tokens[i] for i in subject_positions(tokenizer, prompt)] == ["crosses", "triangle"]
    assert subject_positions(tokenizer, "a red sky") == []


def test_probe_sees_the_weights_and_changes_nothing():
    torch.manual_seed(0)
    attention = MultiHeadAttention(16, 2, context_dim=8)
    x, context = torch.randn(3, 5, 16), torch.randn(3, 4, 8)
    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0], [1, 1, 1, 1]], dtype=torch.bool)
    plain = attention(x, context, mask)
    seen = []
    attention.probe = seen.append
    probed = attention(x, context, mask)
    torch.testing.assert_close(probed, plain, atol=1e-5, rtol=1e-5)
    weights = seen[0].detach()
    assert len(seen) == 1
    assert weights.shape == (3, 2, 5, 4)
    torch.testing.assert_close(weights.sum(-1), torch.ones(3, 2, 5))
    assert float(weights[1, :, :, 2:].abs().max()) == 0.0  # padding gets no weight


def test_neglect_loss_is_low_when_every_subject_has_a_peak():
    pixels, length = 16, 5  # [CLS] w1 w2 w3 [SEP]; subjects at tokens 1 and 3
    attention = torch.zeros(2, pixels, length)
    attention[:, :, 2] = 1.0                  # sample 0: every pixel looks at the non-subject word
    attention[1, :8, 1] = attention[1, 8:, 3] = 5.0  # sample 1: each subject owns half the image
    loss = neglect_loss(attention, [length, length], [[1, 3], [1, 3]])
    assert loss[0] > 0.99 and loss[1] < 0.2


def test_wrapper_is_the_guided_denoiser_at_scale_zero_and_its_step_lowers_the_loss(default_model):
    prompts = ["a green cross to the right of a purple triangle", "three red circles above a blue square"]
    positions = [subject_positions(default_model.text_encoder.tokenizer, p) for p in prompts]
    cond, uncond = default_model.encode_prompts(prompts, ["", ""])
    net = default_model.denoiser

    def guided(x, sigma, cond, uncond):
        return net(x, sigma, **cond)

    sigma = torch.full((2,), 3.0)
    x = torch.randn(2, 4, 16, 16, generator=torch.Generator().manual_seed(0)) * 3.0
    with torch.no_grad():
        plain = guided(x, sigma, cond, uncond)
        assert torch.equal(AttendAndExciteDenoiser(guided, net, net.net, positions, 0.0)(x, sigma, cond, uncond),
                           plain)
    wrapper = AttendAndExciteDenoiser(guided, net, net.net, positions, 1.0)
    grad = wrapper._loss_gradient(x, sigma, cond)
    wrapper._loss_gradient(x - 0.5 * grad / grad.norm() * x.norm() * 0.05, sigma, cond)
    before, after = wrapper.losses
    assert after < before


def test_sampling_with_the_wrapper_gives_images(default_model):
    prompts = ["a red circle above a blue square"]
    positions = [subject_positions(default_model.text_encoder.tokenizer, p) for p in prompts]
    made = []

    def steer(guided, cond):
        made.append(AttendAndExciteDenoiser(guided, default_model.denoiser, default_model.denoiser.net,
                                            positions, 3.0, sigma_min=1.0))
        return made[0]
    settings = GenerationRequest(prompt="-", steps=6, width=64, height=64)
    (image,) = default_model.sample(prompts, [0], settings, steer=steer)
    assert image.size == (64, 64)
    assert 0 < len(made[0].losses) < 6  # guided only while sigma >= 1
    with pytest.raises(ValueError, match="scale"):
        AttendAndExciteDenoiser(None, None, default_model.denoiser.net, positions, -1.0)


def test_excite_is_a_request_setting_recorded_in_the_metadata(default_model, tiny_model):
    request = GenerationRequest(prompt="a red circle above a blue square", steps=4, excite=5.0)
    (image,) = default_model.generate(request)
    assert image.record.extra["Attend-and-Excite"] == "5.0"
    with pytest.raises(ValueError, match="Attend-and-Excite scale"):
        default_model.generate(GenerationRequest(prompt="a red circle", steps=4, excite=1000.0))
    with pytest.raises(ValueError, match="word-piece text encoder"):  # the byte-level tiny model cannot
        tiny_model.generate(GenerationRequest(prompt="a red circle", steps=4, excite=5.0))
