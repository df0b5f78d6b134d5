"""Editing and the CLI work on Stable Diffusion models through the same pipeline as on ours."""

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from pixeldrift.cli.main import cli
from pixeldrift.pipeline import GenerationRequest
from pixeldrift.pretrained import open_model
from pixeldrift.provenance.label import read_labels


@pytest.fixture(scope="module")
def sd1(sd1_folder):
    return open_model(sd1_folder)


def picture() -> Image.Image:
    y, x = np.mgrid[0:32, 0:32]
    return Image.fromarray(np.stack([x * 8, y * 8, (x + y) * 4], -1).astype(np.uint8))


@pytest.mark.parametrize("sampler", ["ddim", "euler_ancestral", "dpmpp_2m"])
def test_image_to_image_ends_and_inpainting_on_stable_diffusion(sd1, sampler):
    base = GenerationRequest("a cat", steps=3, seed=2, width=32, height=32, sampler=sampler)
    text_only = sd1.generate(base)[0].image
    full = sd1.generate(GenerationRequest(**{**base.__dict__, "init_image": picture(), "strength": 1.0}))[0].image
    assert full.tobytes() == text_only.tobytes()
    mask = Image.new("L", (32, 32), 0)
    mask.paste(255, (0, 0, 12, 32))
    painted = sd1.generate(GenerationRequest(**{**base.__dict__, "init_image": picture(), "mask": mask,
                                                "strength": 1.0, "mask_blur": 0}))[0].image
    difference = np.abs(np.asarray(painted).astype(int) - np.asarray(picture()).astype(int))
    assert difference[:, 12:].max() == 0 and difference[:, :8].mean() > 1


def test_generate_command_runs_a_diffusers_folder(sd1_folder, tmp_path):
    result = CliRunner().invoke(cli, ["generate", "a cat", "--model", str(sd1_folder), "--steps", "2",
                                      "--size", "32", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    record = read_labels(next(tmp_path.glob("*.png")).read_bytes()).record
    assert record.model == "tiny-sd1" and record.width == 32 and record.sampler


def test_the_family_option_is_refused_for_our_own_models_and_a_missing_lora_is_named(tmp_path):
    family = CliRunner().invoke(cli, ["generate", "a cat", "--family", "sd1", "--out", str(tmp_path)])
    assert family.exit_code == 1 and "apply to Stable Diffusion checkpoints" in family.output, family.output
    lora = CliRunner().invoke(cli, ["generate", "a cat", "--lora", "x.safetensors", "--out", str(tmp_path)])
    assert lora.exit_code == 1 and "x.safetensors: no such safetensors file" in lora.output, lora.output
    assert not list(tmp_path.iterdir())
