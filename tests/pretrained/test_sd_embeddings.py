"""Textual-inversion embeddings for Stable Diffusion in AUTOMATIC1111's layouts (A1111's .pt, kohya's
emb_params, SDXL's clip_l/clip_g, diffusers' learned_embeds, A1111's PNG embedding card): the word (the file's
name, a card's JSON name) becomes new tokens that change the prompts using it and no other, unloading restores
the vocabulary, and every file that does not fit is refused naming the problem, with nothing changed."""

from __future__ import annotations

import base64
import json
import pickle

import pytest
import torch
from click.testing import CliRunner
from PIL import Image
from PIL.PngImagePlugin import PngInfo
from safetensors.torch import save_file
from torch import nn

from pixeldrift.bounded_files import BadFileError
from pixeldrift.cli.main import cli
from pixeldrift.pipeline.request import GenerationRequest
from pixeldrift.pretrained import embeddings, open_model
from pixeldrift.pretrained.embeddings import read_sd_embedding

pytest.importorskip("diffusers")


def latents(model, prompt: str) -> torch.Tensor:
    return model.sample_latents([prompt], [5], GenerationRequest(prompt=prompt, width=32, height=32, steps=2))[0]


def tables(model) -> list[nn.Module]:
    return [encoder.get_input_embeddings() for encoder in model.prompt_encoder.text_encoders]


def test_a1111_pt_kohya_and_diffusers_files_read_the_same_vectors(tmp_path):
    vectors = torch.randn(3, 32)
    torch.save({"string_to_token": {"*": 265}, "string_to_param": {"*": vectors.clone().requires_grad_(True)},
                "name": "Sks", "step": 100, "sd_checkpoint": "a1b2c3d4", "sd_checkpoint_name": "tiny"},
               tmp_path / "Sks.pt")
    save_file({"emb_params": vectors}, tmp_path / "kohya.safetensors")
    torch.save({"<cat-toy>": vectors[0]}, tmp_path / "toy.bin")
    pt = read_sd_embedding(tmp_path / "Sks.pt")
    assert pt.word == "sks" and torch.equal(pt.vectors[""], vectors)  # A1111: the word is the file's name
    assert pt.about == {"name": "Sks", "step": 100, "sd_checkpoint": "a1b2c3d4", "sd_checkpoint_name": "tiny"}
    assert torch.equal(read_sd_embedding(tmp_path / "kohya.safetensors").vectors[""], vectors)
    toy = read_sd_embedding(tmp_path / "toy.bin")
    assert toy.word == "toy" and torch.equal(toy.vectors[""], vectors[:1])


def card_text(data) -> str:
    """A1111's 'sd-ti-embedding' text: base64 of the .pt's dictionary as JSON, tensors as {"TORCHTENSOR": lists}."""
    return base64.b64encode(json.dumps(data, default=lambda t: {"TORCHTENSOR": t.tolist()}).encode()).decode()


def write_card(path, text: str | None, size: int = 16):
    """A PNG embedding card as A1111 saves one (PngInfo.add_text: a tEXt chunk before the pixels)."""
    info = PngInfo()
    if text is not None:
        info.add_text("sd-ti-embedding", text)
    Image.new("RGB", (size, size), (40, 90, 200)).save(path, pnginfo=info)
    return path


def test_a_png_embedding_card_reads_as_its_pt_its_word_the_name_it_holds(tmp_path):
    vectors = torch.randn(3, 32)
    data = {"string_to_token": {"*": 265}, "string_to_param": {"*": vectors}, "name": "Sks", "step": 100,
            "sd_checkpoint": "a1b2c3d4", "sd_checkpoint_name": "tiny"}
    torch.save(data, tmp_path / "sks.pt")
    card = read_sd_embedding(write_card(tmp_path / "my-style-card.png", card_text(data)))
    pt = read_sd_embedding(tmp_path / "sks.pt")
    assert card.word == pt.word == "sks"   # A1111: name = data.get('name', name), not the file's
    assert torch.equal(card.vectors[""], pt.vectors[""]) and card.about == pt.about
    unnamed = {key: value for key, value in data.items() if key != "name"}
    assert read_sd_embedding(write_card(tmp_path / "Other.PNG", card_text(unnamed))).word == "other"
    xl = read_sd_embedding(write_card(tmp_path / "xl.png", card_text({"clip_l": torch.randn(2, 16),
                                                                      "clip_g": torch.randn(2, 32)})))
    assert xl.word == "xl" and xl.widths == {"clip_l": 16, "clip_g": 32}


def test_cards_that_are_not_embeddings_are_refused_naming_the_problem(tmp_path, monkeypatch):
    marker = tmp_path / "ran"

    class Code:
        def __reduce__(self):
            return open, (str(marker), "w")

    good = {"string_to_param": {"*": torch.randn(2, 32)}, "name": "sks", "step": 1}
    grid = {"string_to_param": {"*": {"TORCHTENSOR": [[1.0, 2.0], [3.0]]}}}
    cards = {
        "plain.png": (None, "without an 'sd-ti-embedding' text chunk, so not an embedding card"),
        "b64.png": ("not base64 at all!", "its sd-ti-embedding text is not base64"),
        "json.png": (base64.b64encode(b"{'string_to_param': 1").decode(), "sd-ti-embedding text is not JSON"),
        "pickle.png": (base64.b64encode(pickle.dumps(Code())).decode(), "sd-ti-embedding text is not JSON"),
        "deep.png": (base64.b64encode(b"[" * 200_000 + b"]" * 200_000).decode(), "JSON is nested too deeply"),
        "nan.png": (card_text({"string_to_param": {"*": torch.full((1, 32), float("nan"))}}), "not finite"),
        "huge.png": (card_text({"string_to_param": {"*": torch.full((1, 32), 1e300, dtype=torch.float64)}}),
                     "not finite"),
        "long.png": (card_text({"string_to_param": {"*": torch.randn(76, 32)}}), r"1 to 75 vectors, got \(76, 32\)"),
        "ragged.png": (card_text(grid), "a TORCHTENSOR in its sd-ti-embedding JSON is not a grid of numbers"),
        "words.png": (card_text({"string_to_param": {"*": {"TORCHTENSOR": [["a"]]}}}), "not a grid of numbers"),
        "lists.png": (card_text({"string_to_param": {"*": [[1.0] * 32]}}), "must be a float tensor, got list"),
        "list.png": (card_text([good]), "holds a list, not an embedding's dictionary"),
        "name.png": (card_text({**good, "name": "my word"}), "the card's name 'my word' is its word"),
    }
    for name, (text, message) in cards.items():
        with pytest.raises(BadFileError, match=message) as error:
            read_sd_embedding(write_card(tmp_path / name, text))
        assert str(error.value).startswith(str(tmp_path / name))
    (tmp_path / "fake.png").write_bytes(b"GIF89a" + bytes(40))
    with pytest.raises(BadFileError, match="fake.png: not a PNG file"):
        read_sd_embedding(tmp_path / "fake.png")
    assert not marker.exists()
    write_card(tmp_path / "sks.png", card_text(good), size=64)
    assert read_sd_embedding(tmp_path / "sks.png").count == 2
    for cap, value, message in (("MAX_CARD_TEXT", 100, r"text is \d+ characters, over the 100 allowed"),
                                ("MAX_CARD_PIXELS", 64 * 63, "4096 pixels, more than the 4032 allowed"),
                                ("MAX_EMBEDDING_BYTES", 200, "over the 200-byte limit for a embedding file")):
        with monkeypatch.context() as patch:
            patch.setattr(embeddings, cap, value)
            with pytest.raises(BadFileError, match=message):
                read_sd_embedding(tmp_path / "sks.png")


def test_the_word_changes_only_prompts_using_it_and_unloading_restores_the_vocabulary(sd1_folder, tmp_path):
    model = open_model(sd1_folder)
    before = {prompt: latents(model, prompt) for prompt in ("a photo of sks", "a photo of a cat")}
    originals = tables(model)
    vectors = torch.randn(3, 32)
    torch.save({"string_to_param": {"*": vectors}, "name": "x", "step": 1}, tmp_path / "SKS.pt")
    assert model.load_embedding(tmp_path / "SKS.pt") == "sks"
    encoder = model.prompt_encoder
    ids = encoder._token_ids(0, "a Sks, sksy (sks:1.2)")
    new = [i for i in ids if i >= originals[0].num_embeddings]
    assert len(new) == 6 and torch.equal(tables(model)[0](torch.tensor(new[:3])), vectors)  # "sksy" is not the word
    assert not (latents(model, "a photo of sks") == before["a photo of sks"]).all()
    assert torch.equal(latents(model, "a photo of a cat"), before["a photo of a cat"])
    model.unload_embeddings()
    assert tables(model)[0] is originals[0] and not encoder.added
    assert torch.equal(latents(model, "a photo of sks"), before["a photo of sks"])


def test_sdxl_embeddings_have_rows_for_both_text_encoders_and_change_the_pooled_state(sdxl_folder, tmp_path):
    model = open_model(sdxl_folder)
    save_file({"clip_l": torch.randn(2, 16), "clip_g": torch.randn(2, 32)}, tmp_path / "sks.safetensors")
    plain, plain_pooled = model.prompt_encoder.encode(["a sks cat", "a cat"])
    model.load_embedding(tmp_path / "sks.safetensors")
    context, pooled = model.prompt_encoder.encode(["a sks cat", "a cat"])
    assert not torch.equal(context[0], plain[0]) and not torch.equal(pooled[0], plain_pooled[0])
    assert torch.equal(context[1], plain[1]) and torch.equal(pooled[1], plain_pooled[1])
    model.unload_embeddings()
    # Checkpoints converted before transformers#24773 say eos_token_id 2 and pool at the largest id, which an
    # added token's would be: while words are added the pool is at the EOS token's id, the same for other prompts.
    legacy = open_model(sdxl_folder)
    for encoder in legacy.prompt_encoder.text_encoders:
        getattr(encoder, "text_model", encoder).eos_token_id = 2
    legacy.load_embedding(tmp_path / "sks.safetensors")
    assert torch.equal(legacy.prompt_encoder.encode(["a sks cat", "a cat"])[1], pooled)
    legacy.unload_embeddings()
    assert all(getattr(e, "text_model", e).eos_token_id == 2 for e in legacy.prompt_encoder.text_encoders)


def test_files_that_do_not_fit_are_refused_naming_the_problem_and_nothing_changes(sd1_folder, sdxl_folder,
                                                                                    tmp_path):
    model = open_model(sd1_folder)
    originals = tables(model)
    marker = tmp_path / "ran"

    class Code:
        def __reduce__(self):
            return open, (str(marker), "w")

    torch.save({"string_to_param": {"*": Code()}}, tmp_path / "evil.pt")
    save_file({"emb_params": torch.randn(1, 1024)}, tmp_path / "sd2.safetensors")
    save_file({"clip_l": torch.randn(1, 16), "clip_g": torch.randn(1, 32)}, tmp_path / "xl.safetensors")
    save_file({"emb_params": torch.randn(76, 32)}, tmp_path / "long.safetensors")
    save_file({"emb_params": torch.full((1, 32), float("nan"))}, tmp_path / "nan.safetensors")
    save_file({"a": torch.randn(1, 32), "b": torch.randn(1, 32)}, tmp_path / "two.safetensors")
    save_file({"emb_params": torch.randn(1, 32)}, tmp_path / "my word.safetensors")
    torch.save({"string_to_param": {"*": torch.randn(1, 32), "#": torch.randn(1, 32)}}, tmp_path / "terms.pt")
    refusals = {"evil.pt": "never as code", "sd2.safetensors": "are 1024 wide; tiny-sd1's text encoder tokens are "
                                                               "32 wide",
                "xl.safetensors": "are clip_l 16 + clip_g 32 wide; tiny-sd1's text encoder tokens are 32 wide",
                "long.safetensors": "1 to 75 vectors, got (76, 32)", "nan.safetensors": "not finite",
                "two.safetensors": "expected string_to_param, emb_params, or clip_l and clip_g; found a, b",
                "my word.safetensors": "rename the file", "terms.pt": "must hold one term"}
    for name, message in refusals.items():
        with pytest.raises(BadFileError, match=message.replace("(", r"\(").replace(")", r"\)").replace("+", r"\+")):
            model.load_embedding(tmp_path / name)
    assert not marker.exists() and tables(model) == originals and not model.prompt_encoder.added
    save_file({"emb_params": torch.randn(1, 32)}, tmp_path / "sks.safetensors")
    model.load_embedding(tmp_path / "sks.safetensors")
    with pytest.raises(BadFileError, match="'sks' is already an added word"):
        model.load_embedding(tmp_path / "sks.safetensors")
    with pytest.raises(BadFileError, match="are 32 wide; tiny-sdxl's text encoder tokens are clip_l 16 \\+ clip_g "
                                           "32 wide"):
        open_model(sdxl_folder).load_embedding(tmp_path / "sks.safetensors")


def test_generate_takes_an_embedding_for_a_stable_diffusion_model(sd1_folder, tmp_path):
    vectors = torch.randn(2, 32)
    save_file({"emb_params": vectors}, tmp_path / "sks.safetensors")
    write_card(tmp_path / "sks-card.png", card_text({"string_to_param": {"*": vectors}, "name": "sks"}))
    images = {}
    for name, extra in (("plain", []), ("embedded", ["--embedding", str(tmp_path / "sks.safetensors")]),
                        ("card", ["--embedding", str(tmp_path / "sks-card.png")])):
        result = CliRunner().invoke(cli, ["generate", "a photo of sks", "--model", str(sd1_folder), "--steps", "2",
                                          "--size", "32", "--seed", "1", "-o", str(tmp_path / f"{name}.png"), *extra])
        assert result.exit_code == 0, result.output
        images[name] = Image.open(tmp_path / f"{name}.png").tobytes()
    assert images["plain"] != images["embedded"] == images["card"]
