import pytest
import torch

from pixeldrift.pipeline import GenerationRequest, load_model
from pixeldrift.pipeline.prompt_weights import apply_token_weights, has_weights, parse_weighted_prompt


@pytest.mark.parametrize("text, expected", [
    ("a red circle", [[("a red circle", 1.0)]]),
    ("a (red) circle", [[("a ", 1.0), ("red", 1.1), (" circle", 1.0)]]),
    ("((red))", [[("red", pytest.approx(1.21))]]),
    ("[red] circle", [[("red", pytest.approx(1 / 1.1)), (" circle", 1.0)]]),
    ("(red:1.5) circle", [[("red", 1.5), (" circle", 1.0)]]),
    ("((red:2) star)", [[("red", pytest.approx(2.2)), (" star", pytest.approx(1.1))]]),
    (r"a \(red\) circle", [[("a (red) circle", 1.0)]]),
    ("(unclosed red", [[("unclosed red", pytest.approx(1.1))]]),
    ("stray) bracket", [[("stray) bracket", 1.0)]]),
    ("time 10:15 now", [[("time 10:15 now", 1.0)]]),
    ("a red circle BREAK a blue square", [[("a red circle", 1.0)], [("a blue square", 1.0)]]),
])
def test_parse_weighted_prompt(text, expected):
    assert parse_weighted_prompt(text) == expected


def test_weights_outside_the_range_are_refused():
    with pytest.raises(ValueError, match="prompt weight 11 is outside 0..10"):
        parse_weighted_prompt("(red:11)")


def test_plain_prompts_have_no_weights():
    assert not has_weights(parse_weighted_prompt("three red circles above a blue square"))
    assert has_weights(parse_weighted_prompt("x BREAK y")) and has_weights(parse_weighted_prompt("(x)"))


def test_token_weights_keep_the_mean_and_shift_emphasis():
    torch.manual_seed(0)
    context = torch.rand(1, 5, 8) + 0.5
    mask = torch.tensor([[True, True, True, True, False]])
    weights = torch.tensor([[1.0, 2.0, 1.0, 1.0, 1.0]])
    out = apply_token_weights(context * mask[..., None], mask, weights)
    real = mask[0]
    assert torch.allclose(out[0, real].mean(), context[0, real].mean(), atol=1e-6)
    ratio = out[0, :4].mean(-1) / context[0, :4].mean(-1)
    assert ratio[1] / ratio[0] == pytest.approx(2.0, rel=1e-5)
    assert out[0, 4].abs().max() == 0


def test_weights_change_the_image_and_neutral_syntax_does_not():
    model = load_model()  # the shipped model: a random one's zero-initialised output ignores the text

    def pixels(prompt):
        return model.generate(GenerationRequest(prompt, steps=2, seed=3))[0].image.tobytes()

    plain = pixels("a red square")
    assert pixels("a (red:1.0) square") == plain
    assert pixels("a (red:1.8) square") != plain
    assert pixels("a red square BREAK a blue star") != plain
