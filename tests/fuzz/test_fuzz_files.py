"""Fuzzing the parsers of untrusted files: model folders, weights, LoRAs, checkpoints, training data (issue 16).

Each case must end in success or in the project's own error type naming the file,
within the per-example deadline and a memory bound: never another exception,
never a hang. Inputs are mutations of valid files (a field replaced by a hostile
value, a byte flipped, a line dropped), which reach deeper than random noise.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import struct
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from safetensors.torch import load_file, save_file
from torch import nn

from pixeldrift.bounded_files import BadFileError
from pixeldrift.data import ImageFolder
from pixeldrift.nets import TEXT_ENCODER_PRESETS, UNET_PRESETS, VAE_PRESETS, load_weights
from pixeldrift.pipeline.model_folder import ModelConfig, load_model, save_model
from pixeldrift.pipeline.text_to_image import TextToImage
from pixeldrift.train.checkpoint import META_KEY
from pixeldrift.train.trainer import Trainer, TrainerConfig

sys.path.insert(0, str(Path(__file__).parents[1] / "pretrained"))  # the tiny Stable Diffusion builders
from tiny_sd_models import make_sd1  # noqa: E402

EXAMPLES = int(os.environ.get("PIXELDRIFT_FUZZ_EXAMPLES", "150"))   # raise it for a deeper run
# A case that builds and loads a (tiny) model takes ~0.3 s; the deadline leaves room for a loaded machine.
DEADLINE_MS = 10_000
HANG_SECONDS = 30      # a case still running after this is stopped and fails (a FIFO opened, a loop)
FUZZ = settings(max_examples=EXAMPLES, deadline=DEADLINE_MS,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
MEMORY_BOUND = 1 << 30  # the peak resident memory may grow by at most 1 GiB over a whole property

# hostile JSON values: zero, negative, huge, non-finite, wrong types, deep nesting
HOSTILE = st.one_of(st.sampled_from([0, -1, 10**6, 10**18, 2**63, float("inf"), float("nan"), -0.0, 1e308, True,
                                     None, "", "x" * 300, [], {}, [0], [10**9] * 3, "../../etc/passwd", "/etc/passwd"]),
                    # no subnormal floats: the trainer flushes them to zero process-wide, which hypothesis rejects
                    st.integers(), st.floats(allow_subnormal=False), st.text(max_size=20),
                    st.recursive(st.integers(-3, 3) | st.text(max_size=3), lambda c: st.lists(c, max_size=3) |
                                 st.dictionaries(st.text(max_size=3), c, max_size=3), max_leaves=8))


@pytest.fixture(autouse=True)
def _bounded_memory(one_thread):
    """Each property on one thread, and its peak memory growth bounded."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    yield
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before
    assert grown < MEMORY_BOUND, f"peak memory grew by {grown >> 20} MiB"


class Hung(Exception):
    """A case ran past HANG_SECONDS."""


def _hung(signum, frame):
    raise Hung(f"still running after {HANG_SECONDS} s")


def expect_named_error(path, action):
    """Run `action`; it may succeed, or raise the project's BadFileError naming `path` (nothing else),
    within HANG_SECONDS (an alarm interrupts even a blocking open())."""
    previous = signal.signal(signal.SIGALRM, _hung)
    signal.setitimer(signal.ITIMER_REAL, HANG_SECONDS)
    try:
        return action()
    except BadFileError as error:
        assert str(path) in str(error), (str(path), str(error))
        return None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def mutate(data, paths, value):
    """`data` (nested dicts) with the field at one of `paths` replaced by `value`, or deleted for `...`."""
    data = json.loads(json.dumps(data))
    *parents, last = paths
    node = data
    for key in parents:
        node = node[key]
    if value is ...:
        node.pop(last, None)
    else:
        node[last] = value
    return data


def field_paths(data, prefix=()) -> list[tuple]:
    paths = []
    for key, value in data.items():
        paths.append(prefix + (key,))
        if isinstance(value, dict):
            paths += field_paths(value, prefix + (key,))
    return paths


def flip(data: bytes, position: int, byte: int) -> bytes:
    position %= max(1, len(data))
    return data[:position] + bytes([byte]) + data[position + 1:]


# ----- our model folders: config.json and weights ---------------------------------------------------------

@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    torch.manual_seed(0)
    config = ModelConfig(name="tiny", image_size=32, text_encoder=TEXT_ENCODER_PRESETS["tiny"],
                         denoiser=replace(UNET_PRESETS["tiny"], context_dim=64), vae=VAE_PRESETS["tiny"])
    return save_model(TextToImage(config), tmp_path_factory.mktemp("model") / "tiny")


CONFIG_FIELDS = st.sampled_from(["name", "image_size", "sigma_data", "parameterization", "vp_schedule", "sampling",
                                 "text_encoder", "denoiser", "vae", "format"])


@FUZZ
@given(data=st.data())
def test_model_folder_config_json(tiny_model, data):
    config = json.loads((tiny_model / "config.json").read_text())
    paths = field_paths(config)
    path = data.draw(st.sampled_from([p for p in paths if p[0] not in ("training", "metrics")]))
    mutated = mutate(config, path, data.draw(st.one_of(HOSTILE, st.just(...))))
    target = tiny_model / "config.json"
    try:
        target.write_text(json.dumps(mutated))
        expect_named_error(target, lambda: load_model(tiny_model))
    finally:
        target.write_text(json.dumps(config))


@FUZZ
@given(raw=st.one_of(st.binary(max_size=200), st.text(max_size=200).map(str.encode),
                     st.integers(1, 5000).map(lambda n: b"[" * n)))
def test_model_folder_config_bytes(tiny_model, raw):
    target, original = tiny_model / "config.json", (tiny_model / "config.json").read_bytes()
    try:
        target.write_bytes(raw)
        expect_named_error(target, lambda: load_model(tiny_model))
    finally:
        target.write_bytes(original)


# ----- safetensors headers: ours (nets.io) and the safetensors reader behind it ---------------------------

def safetensors_bytes(header: dict, data: bytes) -> bytes:
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + data


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory):
    net = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    path = tmp_path_factory.mktemp("weights") / "net.safetensors"
    save_file(net.state_dict(), path)
    return net, path


@FUZZ
@given(data=st.data())
def test_safetensors_headers(weights_file, tmp_path, data):
    net, source = weights_file
    raw = source.read_bytes()
    length = struct.unpack("<Q", raw[:8])[0]
    header, body = json.loads(raw[8:8 + length]), raw[8 + length:]
    name = data.draw(st.sampled_from(sorted(header)))
    kind = data.draw(st.sampled_from(["field", "entry", "flip", "cut", "length"]))
    if kind == "field" and name != "__metadata__":
        header[name][data.draw(st.sampled_from(["dtype", "shape", "data_offsets"]))] = data.draw(HOSTILE)
        raw = safetensors_bytes(header, body)
    elif kind == "entry":
        header[name] = data.draw(HOSTILE)
        raw = safetensors_bytes(header, body)
    elif kind == "flip":
        raw = flip(raw, data.draw(st.integers(0, len(raw))), data.draw(st.integers(0, 255)))
    elif kind == "cut":
        raw = raw[:data.draw(st.integers(0, len(raw)))]
    else:
        raw = struct.pack("<Q", data.draw(st.integers(0, 2**64 - 1))) + raw[8:]
    path = tmp_path / "fuzzed.safetensors"
    path.write_bytes(raw)
    expect_named_error(path, lambda: load_weights(nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2)), path))


# ----- Stable Diffusion folders, their indexes and configs, and LoRA files --------------------------------

@pytest.fixture(scope="module")
def sd_folder(tmp_path_factory):
    return make_sd1(tmp_path_factory.mktemp("sd") / "tiny-sd1")


@pytest.fixture(scope="module")
def sd_model(sd_folder):
    from pixeldrift.pretrained import open_model

    return open_model(sd_folder)


def _index_cases():
    weight_map = st.dictionaries(st.text(max_size=8), HOSTILE | st.sampled_from(
        ["../x.safetensors", "/abs.safetensors", "../../../outside/u.safetensors", "shard.safetensors",
         "a/../../b.safetensors", "diffusion_pytorch_model.safetensors"]), max_size=4)
    return st.one_of(HOSTILE, st.fixed_dictionaries({"weight_map": weight_map | HOSTILE}))


@FUZZ
@given(index=_index_cases())
def test_diffusers_weight_indexes(sd_folder, tmp_path, index):
    from pixeldrift.pretrained.diffusers_folder import weight_files

    part = tmp_path / "unet"
    part.mkdir(exist_ok=True)
    path = part / "diffusion_pytorch_model.safetensors.index.json"
    path.write_text(json.dumps(index))
    try:
        files = expect_named_error(path, lambda: weight_files(tmp_path, part))
    finally:
        path.unlink()
    assert files is None or all(f.resolve().is_relative_to(tmp_path.resolve()) for f in files)


@FUZZ
@given(data=st.data())
def test_diffusers_folder_layouts(sd_folder, tmp_path, data):
    """model_index.json and each part's config, mutated; the folder holds no weights, so every case that
    parses ends in a named error before anything large is built."""
    from pixeldrift.pretrained import open_model

    name = data.draw(st.sampled_from(["model_index.json", "unet/config.json", "vae/config.json",
                                      "text_encoder/config.json", "scheduler/scheduler_config.json"]))
    folder = tmp_path / "m"
    for part in ("model_index.json", "unet/config.json", "vae/config.json", "text_encoder/config.json",
                 "scheduler/scheduler_config.json"):
        (folder / part).parent.mkdir(parents=True, exist_ok=True)
        (folder / part).write_bytes((sd_folder / part).read_bytes())
    original = json.loads((sd_folder / name).read_text())
    mutated = mutate(original, data.draw(st.sampled_from(field_paths(original))), data.draw(HOSTILE | st.just(...)))
    (folder / name).write_text(json.dumps(mutated))
    expect_named_error(folder, lambda: open_model(folder))


LORA_DTYPES = st.sampled_from([torch.float32, torch.float16, torch.bfloat16, torch.int8, torch.bool,
                               torch.complex64, torch.float64])


@settings(max_examples=min(EXAMPLES, 100), deadline=DEADLINE_MS,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_lora_files(sd_model, tmp_path, data):
    names = ["lora_unet_down_blocks_1_attentions_0_transformer_blocks_0_attn1_to_q", "lora_te_text_model_encoder_"
             "layers_0_self_attn_q_proj", "unet.conv_in", "lora_unet_nothing_here"]
    tensors = {}
    for _ in range(data.draw(st.integers(0, 4))):
        name = data.draw(st.sampled_from(names)) + data.draw(st.sampled_from(
            [".lora_down.weight", ".lora_up.weight", ".alpha", ".lora_A.weight", ".lora_B.weight", ".weird"]))
        shape = data.draw(st.lists(st.integers(0, 70), max_size=4))
        tensors[name] = torch.ones(shape, dtype=data.draw(LORA_DTYPES))
    path = tmp_path / "fuzzed-lora.safetensors"
    save_file(tensors, path)
    before = sd_model.unet.conv_in.weight.clone()
    try:
        expect_named_error(path, lambda: sd_model.load_lora(path, 0.5))
    finally:
        sd_model.unload_loras()
    assert torch.equal(sd_model.unet.conv_in.weight, before)


# ----- training checkpoints ------------------------------------------------------------------------------

class Quadratic(nn.Module):
    """The smallest trainable module: a trainable and a frozen parameter."""

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(3))
        self.frozen = nn.Parameter(torch.ones(2), requires_grad=False)

    def forward(self, images, captions, noise):
        return (self.weight - images.mean()).pow(2).sum().expand(images.shape[0])


class Halves:
    def batch(self, indices):
        return torch.full((len(indices), 1), 0.5), [""] * len(indices)


TRAINER = TrainerConfig(steps=2, batch_size=2, warmup_steps=1, checkpoint_every=1)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    trainer = Trainer(Quadratic(), Halves(), TRAINER, tmp_path_factory.mktemp("run"))
    trainer.fit(until=1)
    return load_file(trainer.checkpoint_path), trainer.state()[1]


@FUZZ
@given(data=st.data())
def test_checkpoints(checkpoint, tmp_path, data):
    tensors, meta = checkpoint
    kind = data.draw(st.sampled_from(["meta field", "meta", "drop tensor", "reshape tensor"]))
    text = json.dumps(meta)
    if kind == "meta field":
        text = json.dumps(mutate(meta, data.draw(st.sampled_from(field_paths(meta))), data.draw(HOSTILE | st.just(...))))
    elif kind == "meta":
        text = data.draw(st.one_of(HOSTILE.map(json.dumps), st.text(max_size=30)))
    elif kind == "drop tensor":
        tensors = {k: v for k, v in tensors.items() if k != data.draw(st.sampled_from(sorted(tensors)))}
    else:
        key = data.draw(st.sampled_from(sorted(tensors)))
        tensors = {**tensors, key: torch.zeros(data.draw(st.lists(st.integers(0, 4), max_size=3)))}
    path = tmp_path / "checkpoint.safetensors"
    save_file(tensors, path, metadata={META_KEY: text})
    trainer = Trainer(Quadratic(), Halves(), TRAINER, tmp_path)
    expect_named_error(path, trainer.resume)


# ----- training folders: metadata.jsonl -------------------------------------------------------------------

LINES = st.one_of(
    st.sampled_from(['{"file_name": "a.png", "text": "a red circle"}', '{"file_name": "a.png"}', "",
                     '{"file_name": "gone.png", "text": "x"}', '{"file_name": "../a.png", "text": "x"}',
                     '{"file_name": "/etc/passwd", "text": "x"}', '{"file_name": "broken.png", "text": "x"}',
                     '{"file_name": ".", "text": "x"}', '{"file_name": "", "text": "x"}', "[" * 3000,
                     '{"file_name": "a.png", "text": "' + "w" * 2001 + '"}']),
    st.fixed_dictionaries({"file_name": HOSTILE | st.just("a.png"), "text": HOSTILE}).map(json.dumps),
    st.text(max_size=40))


@FUZZ
@given(lines=st.lists(st.one_of(LINES.map(str.encode), st.binary(max_size=30)), max_size=6))
def test_metadata_jsonl(tmp_path, lines):
    if not (tmp_path / "a.png").exists():
        Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "a.png")
        (tmp_path / "broken.png").write_bytes((tmp_path / "a.png").read_bytes()[:40])
    path = tmp_path / "metadata.jsonl"
    path.write_bytes(b"\n".join(line.replace(b"\n", b" ") for line in lines))
    folder = expect_named_error(path, lambda: ImageFolder(tmp_path, size=8))
    if folder is not None:
        images, captions = folder.batch([0, 1])
        assert images.shape == (2, 3, 8, 8) and all(len(c) <= 2000 for c in captions)
