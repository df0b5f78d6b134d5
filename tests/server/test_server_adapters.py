"""LoRAs and embeddings served from folders (issue 19): A1111's listings, the <lora:NAME:WEIGHT> prompt tag
applied for one job only (the image equals the CLI's --lora FILE:WEIGHT), and every bad tag a 400 naming it;
Stable Diffusion embeddings in A1111's layouts served for the tiny SD models they fit."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
import os
import sys
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from pixeldrift.cli.main import run
from pixeldrift.pipeline import GenerationRequest, load_model
from pixeldrift.pipeline.adapter_files import lora_about, save_embedding, write_embedding_tensors
from pixeldrift.provenance.label import read_labels
from pixeldrift.server import adapters
from pixeldrift.server.adapters import MAX_TAGS, TAG, AdapterCatalog, parse_tags
from pixeldrift.server.errors import ApiError
from personal_files import lora_file
from server_helpers import decode_png, png_base64, wait_job

SETTINGS = {"steps": 4, "seed": 3}


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """A LoRA of random factors for the default model, an embedding for its MiniLM encoder ('sks'), and one
    16 wide that fits no model here."""
    root = tmp_path_factory.mktemp("adapters")
    path, _, _ = lora_file(None, root / "loras", scale_up=1.0, name="crescent")
    base = lora_about(path)["base"]
    (root / "loras" / "notes.txt").write_text("not a LoRA: not listed")
    save_embedding(root / "loras" / "junk.safetensors", "junk", torch.ones(8))   # no LoRA factors: not listed
    vector = torch.randn(384, generator=torch.Generator().manual_seed(1)) * 0.05
    save_embedding(root / "embeddings" / "sks.safetensors", "sks", vector, {"base": base, "steps_done": 7})
    save_embedding(root / "embeddings" / "narrow.safetensors", "narrow", torch.ones(16))
    return root


@pytest.fixture
def served(make_client, folders):
    return make_client(watermark=False, lora_dir=folders / "loras", embedding_dir=folders / "embeddings")


def txt2img(client, prompt: str, **fields):
    response = client.post("/sdapi/v1/txt2img", json={"prompt": prompt, **SETTINGS, **fields})
    assert response.status_code == 200, response.text
    answer = response.json()
    return decode_png(answer["images"][0]), json.loads(answer["info"]), answer["images"][0]


def tensor_hash(path) -> str:
    """A1111's LoRA hash: SHA-256 of the bytes after the safetensors header, first 12 hex digits."""
    data = path.read_bytes()
    return hashlib.sha256(data[8 + int.from_bytes(data[:8], "little"):]).hexdigest()[:12]


def test_the_folders_are_listed_in_a1111s_shapes(served, folders):
    loras = served.get("/sdapi/v1/loras").json()
    assert [(lora["name"], lora["alias"]) for lora in loras] == [("crescent", "crescent")]
    assert loras[0]["path"] == str(folders / "loras" / "crescent.safetensors")
    assert loras[0]["metadata"]["ss_network_dim"] == "2"
    embeddings = served.get("/sdapi/v1/embeddings").json()
    assert list(embeddings["loaded"]) == ["sks"] and list(embeddings["skipped"]) == ["narrow"]
    sks = embeddings["loaded"]["sks"]
    assert (sks["shape"], sks["vectors"], sks["step"]) == (384, 1, 7)
    assert sks["sd_checkpoint_name"] == "pixeldrift-cpu" and len(sks["sd_checkpoint"]) == 10
    info = served.get("/api/info").json()
    assert info["loras"] == [{"name": "crescent", "alias": "crescent"}] and info["embeddings"] == ["sks"]


def test_without_folders_the_lists_are_empty(client):
    assert client.get("/sdapi/v1/loras").json() == []
    assert client.get("/sdapi/v1/embeddings").json() == {"loaded": {}, "skipped": {}}


def test_a_tag_applies_the_lora_for_its_job_only_as_the_cli_does(served, folders, tmp_path):
    plain, _, _ = txt2img(served, "a red circle")
    tagged, info, encoded = txt2img(served, "a red circle <lora:crescent:0.8>")
    after, _, _ = txt2img(served, "a red circle")
    assert tagged.tobytes() != plain.tobytes()
    assert after.tobytes() == plain.tobytes()           # the next job sees the model as served
    lora = folders / "loras" / "crescent.safetensors"
    out = tmp_path / "cli.png"
    assert run(["generate", "a red circle", "--lora", f"{lora}:0.8", "--steps", "4", "--seed", "3",
                "--no-watermark", "-o", str(out)]) == 0
    assert Image.open(out).convert("RGB").tobytes() == tagged.tobytes()
    # recorded as the webui records it: the tag kept in the prompt, the file's hash beside it
    assert info["prompt"] == "a red circle <lora:crescent:0.8>"
    assert info["extra_generation_params"]["Lora hashes"] == f"crescent: {tensor_hash(lora)}"
    labels = read_labels(base64.b64decode(encoded))
    assert labels.record.prompt == "a red circle <lora:crescent:0.8>"
    assert labels.parameters.startswith("a red circle <lora:crescent:0.8>\n")
    assert f'Lora hashes: "crescent: {tensor_hash(lora)}"' in labels.parameters, labels.parameters


def test_the_own_api_takes_the_tag_and_keeps_it_in_the_gallery(served):
    tagged, _, _ = txt2img(served, "a red circle <lora:crescent:0.8>")
    job = served.post("/api/jobs", json={"prompt": "a red circle <lora:crescent:0.8>", **SETTINGS}).json()
    done = wait_job(served, job["id"])
    assert done["status"] == "succeeded", done
    row = served.get(f"/api/gallery/{done['images'][0]}").json()
    assert row["prompt"] == "a red circle <lora:crescent:0.8>"
    assert row["settings"]["prompt"] == "a red circle <lora:crescent:0.8>"
    image = Image.open(io.BytesIO(served.get(row["url"]).content)).convert("RGB")
    assert image.tobytes() == tagged.tobytes()


def test_an_embedding_applies_where_its_word_is_used_and_is_taken_out_after(served, folders, default_model):
    request = GenerationRequest("a red sks", **SETTINGS)
    plain = default_model.generate(request)[0].image
    with_word, info, _ = txt2img(served, "a red sks")
    assert default_model.text_encoder.tokenizer.token_to_id("sks") is None   # taken out after the job
    model = load_model(None)
    model.load_embedding(folders / "embeddings" / "sks.safetensors")
    assert with_word.tobytes() == model.generate(request)[0].image.tobytes() != plain.tobytes()
    sha = hashlib.sha256((folders / "embeddings" / "sks.safetensors").read_bytes()).hexdigest()[:12]
    assert info["extra_generation_params"]["TI hashes"] == f"sks: {sha}"
    unused, info, _ = txt2img(served, "a red circle")
    assert "TI hashes" not in info["extra_generation_params"]


@pytest.mark.parametrize("prompt, words", [
    ("a star <lora:nosuch:0.5>", "unknown LoRA 'nosuch'"),
    ("a star <lora:crescent:lots>", "the weight must be a number"),
    ("a star <lora:crescent:11>", "the weight must be a number from -10 to 10"),
    ("a star <lora:crescent:nan>", "the weight must be a number"),
    ("a star <lora:crescent:0.5:0.5>", "one weight per LoRA"),
    ("a star <lora:crescent:1> <lora:crescent:0.5>", "tagged twice"),
    ("a star <hypernet:crescent:1>", "<lora:NAME:WEIGHT> tags only"),
    ("a star" + " <lora:crescent:1>" * 9, "over 8 LoRA tags"),
    ("a narrow star", "embedding 'narrow' (narrow.safetensors) does not fit model 'pixeldrift-cpu': its vectors "
                      "are 16 wide; pixeldrift-cpu's text encoder tokens are 384 wide"),
])
def test_bad_tags_are_refused_by_name_before_queueing(served, prompt, words):
    for path, body in (("/sdapi/v1/txt2img", {"prompt": prompt}), ("/api/jobs", {"prompt": prompt})):
        response = served.post(path, json={**body, "steps": 2})
        assert response.status_code == 400, response.text
        assert words in response.text, response.text
    assert served.get("/api/gallery").json()["total"] == 0


def test_a_tag_in_the_negative_prompt_is_refused(served):
    response = served.post("/sdapi/v1/txt2img", json={"prompt": "a star", "negative_prompt": "<lora:crescent:1>"})
    assert response.status_code == 400 and "not the negative prompt" in response.text


def test_a_lora_for_another_model_is_refused_naming_both(make_client, folders, random_model_dir):
    client = make_client(model=load_model(random_model_dir), lora_dir=folders / "loras")
    response = client.post("/sdapi/v1/txt2img", json={"prompt": "a star <lora:crescent:1>", "steps": 2})
    assert response.status_code == 400, response.text
    assert "LoRA 'crescent' does not fit model 'tiny-random'" in response.text


def test_refresh_reads_the_folder_again(served, folders):
    extra = folders / "loras" / "second.safetensors"
    extra.write_bytes((folders / "loras" / "crescent.safetensors").read_bytes())
    try:
        assert len(served.get("/sdapi/v1/loras").json()) == 1
        assert served.post("/sdapi/v1/refresh-loras").status_code == 200
        assert [lora["name"] for lora in served.get("/sdapi/v1/loras").json()] == ["crescent", "second"]
    finally:
        extra.unlink()


def test_tags_are_stripped_from_the_text_the_model_reads():
    assert parse_tags("a <lora:crescent> red, star <lora:my style:-0.5>, ") == \
        ("a red, star", [("crescent", 1.0), ("my style", -0.5)])
    assert parse_tags("(a star:1.2) <b>") == ("(a star:1.2) <b>", [])   # weights and other brackets stay


def test_a_folder_over_the_file_limit_is_refused_naming_it(folders, monkeypatch):
    monkeypatch.setattr(adapters, "MAX_ADAPTER_FILES", 1)
    with pytest.raises(ValueError, match=r"--loras .*loras: over 1 \.safetensors files"):
        AdapterCatalog.load(folders / "loras", None)


@pytest.fixture
def nested(folders, tmp_path):
    """LoRA and embedding folders with files in subfolders (as A1111's folders often are), hidden files and
    folders, a preview image, a second file of a word already taken, a shared folder linked in and two link
    loops."""
    root, lora = tmp_path / "nested", (folders / "loras" / "crescent.safetensors").read_bytes()
    for relative in ("loras/crescent.safetensors", "loras/a/wave.safetensors", "loras/a/b/c/moon.safetensors",
                     "loras/.trash/old.safetensors", "loras/a/.hidden.safetensors", "loras/b/a/wave.safetensors"):
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(lora)
    for relative in ("embeddings/sks.safetensors", "embeddings/people/kid/qqkid.safetensors",
                     "embeddings/styles/qqink.safetensors", "embeddings/.old/ghost.safetensors",
                     "embeddings/styles/.ghost.safetensors", "embeddings/zz/qqink.safetensors",
                     "elsewhere/qqfar.safetensors"):   # tokens no word of the MiniLM vocabulary
        save_embedding(root / relative, Path(relative).stem.strip("."), torch.randn(384) * 0.05)
    Image.new("RGB", (8, 8)).save(root / "embeddings" / "styles" / "qqink.preview.png")   # A1111 skips previews
    os.symlink(root / "elsewhere", root / "embeddings" / "shared")                       # followed, as A1111 does
    os.symlink(root / "embeddings", root / "embeddings" / "people" / "kid" / "up")       # loops: each real folder
    os.symlink(".", root / "loras" / "a" / "b" / "self")                                 # is read once
    return root


def relative_files(root, option, suffixes):
    return [str(path.relative_to(root)) for path in adapters._files(root, option, suffixes)]


def test_subfolders_are_read_hidden_ones_and_loops_not(nested, caplog):
    assert relative_files(nested / "loras", "--loras", (".safetensors",)) == \
        ["crescent.safetensors", "a/wave.safetensors", "b/a/wave.safetensors", "a/b/c/moon.safetensors"]
    assert relative_files(nested / "embeddings", "--embeddings", (".safetensors", ".png")) == \
        ["sks.safetensors", "shared/qqfar.safetensors", "styles/qqink.safetensors", "zz/qqink.safetensors",
         "people/kid/qqkid.safetensors"]
    with caplog.at_level(logging.WARNING, "pixeldrift.server"):
        catalog = AdapterCatalog.load(nested / "loras", nested / "embeddings")
    assert list(catalog.loras) == ["crescent", "wave", "moon"] and sorted(catalog.embeddings) == \
        ["qqfar", "qqink", "qqkid", "sks"]
    assert catalog.loras["wave"].path == nested / "loras" / "a" / "wave.safetensors"
    assert catalog.embeddings["qqink"].path == nested / "embeddings" / "styles" / "qqink.safetensors"
    assert f"LoRA {nested / 'loras/b/a/wave.safetensors'} skipped: {nested / 'loras/a/wave.safetensors'} has the " \
           "name 'wave'" in caplog.text
    assert f"embedding {nested / 'embeddings/zz/qqink.safetensors'} skipped: another file has the word 'qqink'" \
        in caplog.text


def test_the_file_cap_counts_subfolders_and_the_depth_is_bounded(nested, monkeypatch, caplog):
    monkeypatch.setattr(adapters, "MAX_ADAPTER_FILES", 4)
    assert len(adapters._files(nested / "loras", "--loras", (".safetensors",))) == 4   # hidden ones not counted
    monkeypatch.setattr(adapters, "MAX_ADAPTER_FILES", 3)
    with pytest.raises(ValueError, match=r"--loras .*loras: over 3 \.safetensors files \(its subfolders' counted\)"):
        AdapterCatalog.load(nested / "loras", None)
    monkeypatch.setattr(adapters, "MAX_ADAPTER_FILES", 256)
    monkeypatch.setattr(adapters, "MAX_FOLDER_ENTRIES", 10)
    with pytest.raises(ValueError, match=r"--loras .*loras: over 10 files and folders"):
        AdapterCatalog.load(nested / "loras", None)
    monkeypatch.setattr(adapters, "MAX_FOLDER_ENTRIES", 20_000)
    monkeypatch.setattr(adapters, "MAX_FOLDER_DEPTH", 2)
    with caplog.at_level(logging.WARNING, "pixeldrift.server"):
        assert relative_files(nested / "loras", "--loras", (".safetensors",)) == \
            ["crescent.safetensors", "a/wave.safetensors", "b/a/wave.safetensors"]
    assert f"{nested / 'loras/a/b/c'} and 0 other folders skipped, over 2 levels below" in caplog.text


def test_a_lora_in_a_subfolder_is_served_and_applied(make_client, served, nested):
    client = make_client(watermark=False, lora_dir=nested / "loras", embedding_dir=nested / "embeddings")
    assert [lora["name"] for lora in client.get("/sdapi/v1/loras").json()] == ["crescent", "wave", "moon"]
    assert sorted(client.get("/sdapi/v1/embeddings").json()["loaded"]) == ["qqfar", "qqink", "qqkid", "sks"]
    wave, info, _ = txt2img(client, "a red circle <lora:wave:0.8>")   # a copy of crescent, one folder down
    assert wave.tobytes() == txt2img(served, "a red circle <lora:crescent:0.8>")[0].tobytes()
    assert info["extra_generation_params"]["Lora hashes"].startswith("wave: ")


TAG_PIECES = st.sampled_from(["<lora:", "<", ">", ":", "a", " ", ",", "0.5", "1e9", "nan", "-", "lyco", "x<y"])


@settings(max_examples=300, deadline=None)
@given(st.lists(TAG_PIECES, max_size=60).map("".join))
def test_any_prompt_is_read_or_refused_by_name(text):
    try:
        rest, tags = parse_tags(text)
    except ApiError as error:
        assert error.status == 400 and error.param == "prompt"
        return
    assert TAG.search(rest) is None
    assert len(tags) <= MAX_TAGS and all(-10 <= weight <= 10 for _, weight in tags)


# ----- Stable Diffusion embeddings ----------------------------------------------------------

SD = {"steps": 2, "seed": 3, "width": 32, "height": 32}


def file_hash(path) -> str:
    """A1111's embedding hash: SHA-256 of the whole file, first 12 hex digits."""
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


@pytest.fixture(scope="module")
def tiny_sd(tmp_path_factory):
    """Tiny SD 1.x and SDXL folders (tests/pretrained/tiny_sd_models.py), a model opened from each, and a
    folder of embeddings: A1111's sks.pt (2 vectors, its step and checkpoint), pixeldrift's SD export
    trained.safetensors (emb_params; its token, base and steps in the metadata: SD's word is the file's name),
    SDXL's xlsks.safetensors (clip_l, clip_g), kohya's wide.safetensors (1024 wide: SD 2.x's) and one for
    pixeldrift's own model."""
    pytest.importorskip("diffusers")
    sys.path.insert(0, str(Path(__file__).parents[1] / "pretrained"))
    from tiny_sd_models import make_sd1, make_sdxl

    from pixeldrift.pretrained import open_model

    root = tmp_path_factory.mktemp("tiny-sd")
    sd1, sdxl = make_sd1(root / "tiny-sd1"), make_sdxl(root / "tiny-sdxl")
    folder, draw = root / "embeddings", torch.Generator().manual_seed(2)
    folder.mkdir()
    torch.save({"string_to_token": {"*": 265}, "string_to_param": {"*": torch.randn(2, 32, generator=draw)},
                "name": "sks", "step": 100, "sd_checkpoint": "a1b2c3d4e5", "sd_checkpoint_name": "tiny-sd1"},
               folder / "sks.pt")
    write_embedding_tensors(folder / "trained.safetensors", {"emb_params": torch.randn(1, 32, generator=draw)},
                            {"token": "mydog", "base": str(sd1), "steps_done": 5})
    write_embedding_tensors(folder / "xlsks.safetensors", {"clip_l": torch.randn(2, 16, generator=draw),
                                                           "clip_g": torch.randn(2, 32, generator=draw)}, {})
    write_embedding_tensors(folder / "wide.safetensors", {"emb_params": torch.randn(1, 1024, generator=draw)}, {})
    save_embedding(folder / "pxsks.safetensors", "pxsks", torch.randn(384, generator=draw) * 0.05)
    return {"sd1": (sd1, open_model(sd1)), "sdxl": (sdxl, open_model(sdxl)), "embeddings": folder}


def test_sd_embeddings_are_listed_for_the_model_they_fit(make_client, tiny_sd, default_model):
    folder = tiny_sd["embeddings"]
    listing = make_client(model=tiny_sd["sd1"][1], embedding_dir=folder).get("/sdapi/v1/embeddings").json()
    assert sorted(listing["loaded"]) == ["sks", "trained"]
    assert listing["loaded"]["sks"] == {"step": 100, "sd_checkpoint": "a1b2c3d4e5", "sd_checkpoint_name": "tiny-sd1",
                                        "shape": 32, "vectors": 2}       # as the A1111 .pt says
    assert listing["loaded"]["trained"] == {"step": 5, "sd_checkpoint": None, "sd_checkpoint_name": "tiny-sd1",
                                            "shape": 32, "vectors": 1}   # from pixeldrift's metadata
    skipped = listing["skipped"]
    assert sorted(skipped) == ["pxsks", "wide", "xlsks"]
    assert skipped["xlsks"]["reason"].startswith("its vectors are clip_l 16 + clip_g 32 wide; tiny-sd1's text "
                                                 "encoder tokens are 32 wide")
    assert (skipped["xlsks"]["shape"], skipped["xlsks"]["vectors"]) == (48, 2)   # A1111: clip_l's + clip_g's
    assert skipped["wide"]["reason"].startswith("its vectors are 1024 wide; tiny-sd1's")
    xl = make_client(model=tiny_sd["sdxl"][1], embedding_dir=folder)
    assert list(xl.get("/sdapi/v1/embeddings").json()["loaded"]) == ["xlsks"]
    assert xl.get("/api/info").json()["embeddings"] == ["xlsks"]
    own = make_client(model=default_model, embedding_dir=folder).get("/sdapi/v1/embeddings").json()
    assert list(own["loaded"]) == ["pxsks"] and "mydog" in own["skipped"]   # the token, for pixeldrift's models
    assert own["skipped"]["sks"]["reason"] == "its vectors are 32 wide; pixeldrift-cpu's text encoder tokens are " \
                                              "384 wide"


@pytest.mark.parametrize("family, word", [("sd1", "sks"), ("sdxl", "xlsks")])
def test_an_sd_embedding_applies_for_its_job_only_as_generate_does(make_client, tiny_sd, tmp_path, family, word):
    folder, model = tiny_sd[family]
    embeddings = tiny_sd["embeddings"]
    served = make_client(model=model, watermark=False, embedding_dir=embeddings)
    plain = make_client(model=model, watermark=False)       # the same model without the folder
    prompt = f"a photo of {word}"
    without, _, _ = txt2img(plain, prompt, **SD)
    cat, _, _ = txt2img(served, "a photo of a cat", **SD)
    with_word, info, encoded = txt2img(served, prompt, **SD)
    assert with_word.tobytes() != without.tobytes()
    assert not model.prompt_encoder.added                    # taken out after the job
    assert txt2img(plain, prompt, **SD)[0].tobytes() == without.tobytes()
    assert txt2img(served, "a photo of a cat", **SD)[0].tobytes() == cat.tobytes()
    path = next(embeddings.glob(f"{word}.*"))
    out = tmp_path / "cli.png"
    assert run(["generate", prompt, "--model", str(folder), "--embedding", str(path), "--steps", "2", "--size",
                "32", "--seed", "3", "--no-watermark", "-o", str(out)]) == 0
    assert Image.open(out).convert("RGB").tobytes() == with_word.convert("RGB").tobytes()
    assert info["prompt"] == prompt and info["extra_generation_params"]["TI hashes"] == f"{word}: {file_hash(path)}"
    assert f'TI hashes: "{word}: {file_hash(path)}"' in read_labels(base64.b64decode(encoded)).parameters
    assert "TI hashes" not in txt2img(served, "a photo of a cat", **SD)[1]["extra_generation_params"]


def test_img2img_and_the_own_api_apply_an_sd_embedding(make_client, tiny_sd):
    model = tiny_sd["sd1"][1]
    served = make_client(model=model, watermark=False, embedding_dir=tiny_sd["embeddings"])
    plain = make_client(model=model, watermark=False)
    init = png_base64(txt2img(plain, "a photo of a cat", **SD)[0])
    images = {}
    for name, client in (("served", served), ("plain", plain)):
        response = client.post("/sdapi/v1/img2img", json={"prompt": "a photo of sks", "init_images": [init], **SD})
        assert response.status_code == 200, response.text
        images[name] = decode_png(response.json()["images"][0]).tobytes()
        info = json.loads(response.json()["info"])["extra_generation_params"]
        assert ("TI hashes" in info) == (name == "served")
    assert images["served"] != images["plain"] and not model.prompt_encoder.added
    job = served.post("/api/jobs", json={"prompt": "a photo of sks", **SD}).json()
    done = wait_job(served, job["id"])
    assert done["status"] == "succeeded", done
    row = served.get(f"/api/gallery/{done['images'][0]}").json()
    assert row["settings"]["record"]["extra"]["TI hashes"].startswith("sks: ")
    image = Image.open(io.BytesIO(served.get(row["url"]).content)).convert("RGB")
    assert image.tobytes() == txt2img(served, "a photo of sks", **SD)[0].convert("RGB").tobytes()
    trained = tiny_sd["embeddings"] / "trained.safetensors"   # its token is mydog; SD's word, the file's name
    info = txt2img(served, "a photo of trained", **SD)[1]["extra_generation_params"]
    assert info["TI hashes"] == f"trained: {file_hash(trained)}" and not model.prompt_encoder.added


@pytest.mark.parametrize("body, param, words", [
    ({"prompt": "a photo of xlsks"}, "prompt", "embedding 'xlsks' (xlsks.safetensors) does not fit model "
                                               "'tiny-sd1': its vectors are clip_l 16 + clip_g 32 wide"),
    ({"prompt": "a photo of wide"}, "prompt", "embedding 'wide' (wide.safetensors) does not fit model 'tiny-sd1': "
                                              "its vectors are 1024 wide; tiny-sd1's text encoder tokens are 32"),
    ({"prompt": "a cat", "negative_prompt": "pxsks"}, "negative_prompt", "embedding 'pxsks' (pxsks.safetensors)"),
])
def test_an_embedding_the_model_cannot_take_is_refused_naming_it(make_client, tiny_sd, body, param, words):
    client = make_client(model=tiny_sd["sd1"][1], embedding_dir=tiny_sd["embeddings"])
    init = {"init_images": [png_base64(Image.new("RGB", (32, 32)))]}
    for path, more in (("/sdapi/v1/txt2img", {}), ("/sdapi/v1/img2img", init), ("/api/jobs", {})):
        response = client.post(path, json={**body, **SD, **more})
        assert response.status_code == 400, response.text
        assert words in response.json()["detail"] and response.json()["param"] == param, response.text
    assert client.get("/api/gallery").json()["total"] == 0


def test_a_png_embedding_card_in_a_subfolder_is_served_as_its_pt(make_client, tiny_sd, tmp_path):
    """A1111's card of the tiny_sd folder's sks.pt, two folders down and under another file name: listed by the
    name its JSON holds, with the .pt's step and checkpoint, and applied as the .pt is."""
    model = tiny_sd["sd1"][1]
    data = torch.load(tiny_sd["embeddings"] / "sks.pt", weights_only=True)
    text = json.dumps(data, default=lambda tensor: {"TORCHTENSOR": tensor.tolist()})   # A1111's EmbeddingEncoder
    chunks = PngInfo()
    chunks.add_text("sd-ti-embedding", base64.b64encode(text.encode()).decode())
    card = tmp_path / "cards" / "people" / "faces" / "sks-100-steps.png"
    card.parent.mkdir(parents=True)
    Image.new("RGB", (16, 16)).save(card, pnginfo=chunks)
    Image.new("RGB", (16, 16)).save(tmp_path / "cards" / "not-a-card.png")   # no chunk: skipped, the reason logged
    served = make_client(model=model, watermark=False, embedding_dir=tmp_path / "cards")
    listing = served.get("/sdapi/v1/embeddings").json()
    assert listing == {"loaded": {"sks": {"step": 100, "sd_checkpoint": "a1b2c3d4e5", "sd_checkpoint_name": "tiny-sd1",
                                          "shape": 32, "vectors": 2}}, "skipped": {}}
    from_pt = make_client(model=model, watermark=False, embedding_dir=tiny_sd["embeddings"])
    image, info, _ = txt2img(served, "a photo of sks", **SD)
    assert image.tobytes() == txt2img(from_pt, "a photo of sks", **SD)[0].tobytes()
    assert info["extra_generation_params"]["TI hashes"] == f"sks: {file_hash(card)}"
    assert not model.prompt_encoder.added
