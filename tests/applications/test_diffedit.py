"""DiffEdit's mask and masked decoding on denoisers whose answer is known, and prompt-to-prompt's attention swap."""

import pytest
import torch

from pixeldrift.applications.diffedit import edit_mask, masked_decode
from pixeldrift.applications.inversion import InversionSettings
from pixeldrift.applications.prompt_to_prompt import PromptToPrompt, changed_tokens, token_alignment
from pixeldrift.nets.attention import MultiHeadAttention
from pixeldrift.sampling.samplers import sample_euler
from pixeldrift.sampling.sigma_schedules import karras_sigmas


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    pass


REGION = (slice(4, 10), slice(5, 11))  # where the two texts disagree, in a 16x16 latent


def region_guided(x, sigma, cond, uncond):
    """A guided denoiser whose prediction under a text depends on that text only inside REGION."""
    out = x / (1 + sigma[:, None, None, None] ** 2)
    out = out.clone()
    out[:, :, REGION[0], REGION[1]] += cond["colour"][:, :, None, None]
    return out


def texts(value: float, n: int = 2) -> dict:
    return {"colour": torch.full((n, 4), value)}


def test_the_mask_is_where_the_predictions_under_the_two_texts_differ():
    latents = torch.randn(2, 4, 16, 16, generator=torch.Generator().manual_seed(0))
    mask = edit_mask(region_guided, latents, 2.0, texts(-1.0), texts(1.0), texts(0.0),
                     generator=torch.Generator().manual_seed(1))
    inside = torch.zeros(16, 16, dtype=torch.bool)
    inside[REGION] = True
    assert mask.shape == (2, 1, 16, 16)
    assert float(mask[:, 0][:, ~inside].sum()) == 0          # nothing outside
    assert float(mask[:, 0][:, inside].mean()) >= 0.85       # the region but its blurred corners


def test_a_mask_of_identical_texts_is_refused_nothing_but_bad_options_are():
    latents = torch.zeros(1, 4, 16, 16)
    with pytest.raises(ValueError, match="noise draw"):
        edit_mask(region_guided, latents, 2.0, texts(0, 1), texts(1, 1), texts(0, 1), samples=0)
    with pytest.raises(ValueError, match="threshold"):
        edit_mask(region_guided, latents, 2.0, texts(0, 1), texts(1, 1), texts(0, 1), threshold=1.0)


def test_masked_decoding_keeps_the_encoded_latent_outside_the_mask_and_samples_inside():
    sigmas = karras_sigmas(8, 0.002, 80.0)
    generator = torch.Generator().manual_seed(0)
    path = [torch.randn(2, 4, 16, 16, generator=generator) * float(s) for s in sigmas]
    path[-1] = torch.randn(2, 4, 16, 16, generator=generator)
    conditions = {"cond": texts(1.0), "uncond": texts(0.0)}
    mask = torch.zeros(2, 1, 16, 16)
    mask[:, :, REGION[0], REGION[1]] = 1
    out = masked_decode(region_guided, path, sigmas, mask, conditions)
    assert torch.equal(out * (1 - mask), path[-1] * (1 - mask))
    everywhere = masked_decode(region_guided, path, sigmas, torch.ones_like(mask), conditions)
    torch.testing.assert_close(everywhere, sample_euler(region_guided, path[0], sigmas, conditions))
    with pytest.raises(ValueError, match="levels"):
        masked_decode(region_guided, path[1:], sigmas, mask, conditions)


def test_token_alignment_maps_shared_words_one_to_one_and_shares_the_changed_span():
    source, target = [101, 7, 8, 9, 102], [101, 7, 20, 21, 9, 102]  # one word becomes two pieces
    a = token_alignment(source, target, 8)
    assert a[0, 0] == 1 and a[1, 1] == 1 and a[3, 4] == 1 and a[4, 5] == 1  # prefix and suffix
    assert a[2, 2] == 0.5 and a[2, 3] == 0.5                                # the changed span shares
    weights = torch.softmax(torch.randn(3, 8), -1) * torch.tensor([1.0] * 5 + [0.0] * 3)
    assert torch.allclose((weights @ a).sum(-1), weights.sum(-1))          # attention still sums the same
    assert changed_tokens(source, target, 8).tolist() == [False, False, True, True] + [False] * 4
    assert torch.equal(token_alignment(source, source, 5), torch.eye(5))
    with pytest.raises(ValueError, match="do not fit"):
        token_alignment(source, target, 5)


def p2p(until_sigma: float, n: int = 2, emphasis=None) -> PromptToPrompt:
    alignment = torch.eye(4).repeat(n, 1, 1)
    alignment[:, 1, 1], alignment[:, 1, 2], alignment[:, 2, 2] = 0.0, 1.0, 0.0  # token 1's weight goes to 2
    sigmas = torch.tensor([2.0, 1.0, 0.0])
    return PromptToPrompt(lambda *a: None, [object()], [torch.zeros(n, 1)] * 3, sigmas, {}, {}, alignment,
                          until_sigma, emphasis=emphasis)


def test_the_target_reads_the_sources_weights_mapped_and_its_uncond_unmapped():
    weights = torch.softmax(torch.randn(4, 1, 3, 4), -1)  # source, target, source uncond, target uncond (N = 1)
    swapped = p2p(1.0, n=1)._swap(weights)
    assert torch.equal(swapped[0], weights[0]) and torch.equal(swapped[2], weights[2])
    assert torch.equal(swapped[1][..., 2], weights[0][..., 1]) and float(swapped[1][..., 1].abs().sum()) == 0
    assert torch.equal(swapped[3], weights[2])
    reweighted = p2p(1.0, n=1, emphasis=torch.tensor([[1.0, 1.0, 3.0, 1.0]]))._swap(weights)
    torch.testing.assert_close(reweighted[1][..., 2], 3 * weights[0][..., 1])


def test_a_probe_that_returns_weights_replaces_them():
    torch.manual_seed(0)
    attention = MultiHeadAttention(8, 1, context_dim=8)
    x, context = torch.randn(1, 3, 8), torch.randn(1, 4, 8)
    attention.probe = lambda weights: torch.full_like(weights, 0.25)  # every token weighs the same
    values = attention.to_kv(context).chunk(2, dim=-1)[1].mean(1)     # (1, 8): the mean value
    expected = attention.to_out(values)[:, None].expand(1, 3, 8)
    torch.testing.assert_close(attention(x, context), expected)


def test_prompt_to_prompt_on_a_network(random_model_dir):
    """Above until_sigma the target attends as the source did, which changes its prediction; below, it is plain."""
    from pixeldrift.applications.inversion import _alignments, attention_layers
    from pixeldrift.pipeline import load_model
    from pixeldrift.sampling.guidance import CFGDenoiser
    tiny_model = load_model(random_model_dir)
    cond, uncond = tiny_model.encode_prompts(["a red circle", "a blue circle"], ["", ""])
    source = {k: v[:1] for k, v in cond.items()}
    target = {k: v[1:] for k, v in cond.items()}
    empty = {k: v[:1] for k, v in uncond.items()}
    alignment, changed = _alignments(tiny_model, ["a red circle"], ["a blue circle"], target)
    assert changed[0].sum() >= 1
    x = torch.randn(1, *tiny_model.latent_shape(32, 32), generator=torch.Generator().manual_seed(0))
    sigmas = torch.tensor([5.0, 1.0, 0.0])
    guided = CFGDenoiser(tiny_model.denoiser, 3.0)
    plain = guided(x, torch.tensor([5.0]), target, empty)
    layers = attention_layers(tiny_model, "cross_attn")
    swapped = PromptToPrompt(guided, layers, [x * 0 + 1, x, x], sigmas, source, empty, alignment, 1.0)
    assert not torch.allclose(swapped(x, torch.tensor([5.0]), target, empty), plain)
    assert all(layer.probe is None for layer in layers)
    late = PromptToPrompt(guided, layers, [x, x, x], sigmas, source, empty, alignment, 10.0)
    torch.testing.assert_close(late(x, torch.tensor([5.0]), target, empty), plain)


@pytest.mark.parametrize("settings, message", [
    (InversionSettings(mask_samples=0), "mask samples"),
    (InversionSettings(prompt_to_prompt=1.5), "prompt-to-prompt share"),
    (InversionSettings(prompt_to_prompt=0.5, method="null-text"), "not null-text"),
    (InversionSettings(emphasis=11.0), "emphasis"),
])
def test_bad_edit_settings_are_refused(settings, message):
    with pytest.raises(ValueError, match=message):
        settings.check()
