"""The upscaler (SR3) on tiny networks: an exact answer at initialisation, every sampler through the one denoiser
interface, seeds, sizes refused by name, and its folder: round trip, float16, and bad folders refused."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from pixeldrift.bounded_files import BadFileError
from pixeldrift.nets.upscaler import UPSCALER_PRESETS
from pixeldrift.pipeline.upscaler import UpscaleSettings, Upscaler, UpscalerConfig, unit_noise
from pixeldrift.pipeline.upscaler_folder import is_upscaler_folder, load_upscaler, save_upscaler
from pixeldrift.sampling.samplers import SAMPLERS
from pixeldrift.sampling.sigma_schedules import karras_sigmas

TINY = UpscalerConfig(name="tiny", unet=UPSCALER_PRESETS["tiny"], factor=4, low_res_size=8)


@pytest.fixture(autouse=True)
def _single_thread(one_thread):
    """One thread (tests/conftest.py says why)."""


@pytest.fixture(scope="module")
def acting(acting_upscaler_dir):
    return load_upscaler(acting_upscaler_dir)


@pytest.mark.parametrize("residual", [True, False])
def test_a_fresh_upscaler_follows_eulers_steps_exactly(residual):
    """At initialisation the network outputs 0, so D = c_skip x (whole images) or low_res + c_skip (x - low_res)
    (residuals), and each Euler step multiplies x, or x - low_res, by a known number: the result is the seed's
    noise times their product, plus the enlargement for residuals (the last step, to sigma 0, returns D)."""
    config = UpscalerConfig(**{**TINY.__dict__, "residual": residual})
    model = Upscaler(config)
    steps, sd2 = 5, config.sigma_data**2
    out = model.upscale(torch.full((1, 3, 8, 8), 0.3), [7], UpscaleSettings(sampler="euler", steps=steps))
    s = karras_sigmas(steps, config.sigma_min, config.sigma_max).double().tolist()
    factor = 1.0
    for now, after in zip(s, s[1:]):
        c_skip = sd2 / (now**2 + sd2)
        factor *= c_skip + (1 - c_skip) * after / now
    start = unit_noise(32, 7).double() * math.sqrt(s[0] ** 2 + sd2)  # the prior: unit noise / c_in(sigma_max)
    expected = 0.3 + (start - 0.3) * factor if residual else start * factor
    assert torch.allclose(out[0].double(), expected.clamp(-1, 1), atol=1e-6)


def test_one_step_returns_the_denoisers_answer(acting):
    low = torch.rand(1, 3, 32, 32) * 2 - 1
    out = acting.upscale(low, [3], UpscaleSettings(sampler="euler", steps=1))
    sigma = torch.tensor([acting.config.sigma_max])
    x = unit_noise(64, 3)[None] / acting.denoiser.input_scale(sigma)
    assert torch.allclose(out, acting.denoiser(x, sigma, **acting.condition(low)).clamp(-1, 1), atol=1e-6)


@pytest.mark.parametrize("sampler", list(SAMPLERS))
def test_every_sampler_runs_it_and_the_image_depends_on_the_low_res_one(acting, sampler):
    low = torch.zeros(1, 3, 32, 32)
    settings = UpscaleSettings(sampler=sampler, steps=2)
    dark, light = (acting.upscale(low + shift, [0], settings) for shift in (-0.5, 0.5))
    assert dark.shape == (1, 3, 64, 64) and torch.isfinite(dark).all()
    assert not torch.equal(dark, light)


def test_image_i_is_its_seeds_alone(acting):
    low = torch.rand(2, 3, 32, 32) * 2 - 1
    both = acting.upscale(low, [4, 9], UpscaleSettings(steps=2))
    alone = acting.upscale(low[1:], [9], UpscaleSettings(steps=2))
    assert torch.allclose(both[1], alone[0], atol=1e-5)
    assert not torch.allclose(both[0], acting.upscale(low[:1], [5], UpscaleSettings(steps=2))[0])


def test_images_of_another_size_and_bad_settings_are_refused_by_name(acting):
    with pytest.raises(ValueError, match="takes 32x32 images, got 30x32"):
        acting.upscale_images([Image.new("RGB", (30, 32))], [0])
    with pytest.raises(ValueError, match=r"takes images of 32x32 pixels"):
        acting.upscale(torch.zeros(1, 3, 16, 16), [0])
    with pytest.raises(ValueError, match="one seed per image"):
        acting.upscale(torch.zeros(2, 3, 32, 32), [0])
    for settings, message in [(UpscaleSettings(steps=0), "steps"), (UpscaleSettings(sampler="magic"), "sampler"),
                              (UpscaleSettings(schedule="leading"), "schedule")]:
        with pytest.raises(ValueError, match=message):
            acting.upscale(torch.zeros(1, 3, 32, 32), [0], settings)


@pytest.mark.parametrize("change, message", [
    (dict(factor=1), "factor"), (dict(low_res_size=4), "low_res_size"), (dict(low_res_size=9, factor=3), "multiple"),
    (dict(sampler="magic"), "sampler"), (dict(sigma_min=100.0), "sigma_min must be below"), (dict(name=""), "name"),
])
def test_configs_out_of_bounds_are_refused(change, message):
    with pytest.raises(ValueError, match=message):
        UpscalerConfig(**{**TINY.__dict__, **change})


def test_the_folder_round_trip_gives_the_same_images_and_float16_rounds_the_weights(acting, tmp_path):
    low = [Image.fromarray(np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8))]
    folder = save_upscaler(acting, tmp_path / "copy", training={"steps_done": 3}, dtype="float32")
    again = load_upscaler(folder)
    assert is_upscaler_folder(folder) and again.config == acting.config
    assert again.upscale_images(low, [1])[0].tobytes() == acting.upscale_images(low, [1])[0].tobytes()
    half = load_upscaler(save_upscaler(acting, tmp_path / "half"))
    assert (tmp_path / "half" / "denoiser.safetensors").stat().st_size < (folder / "denoiser.safetensors").stat().st_size
    for (name, a), b in zip(acting.state_dict().items(), half.state_dict().values()):
        assert b.dtype == torch.float32 and torch.equal(a.half().float(), b), name
    assert "pixeldrift upscale" in (folder / "README.md").read_text()


def _broken(folder, tmp_path, edit):
    copy = shutil.copytree(folder, tmp_path / "broken")
    edit(copy)
    return copy


def _set(key, value):
    def edit(folder):
        data = json.loads((folder / "config.json").read_text())
        data["upscaler"][key] = value
        (folder / "config.json").write_text(json.dumps(data))
    return edit


@pytest.mark.parametrize("edit, error, message", [
    (lambda f: (f / "config.json").unlink(), BadFileError, "no config.json"),
    (lambda f: (f / "denoiser.safetensors").unlink(), BadFileError, "missing denoiser.safetensors"),
    (lambda f: (f / "denoiser.safetensors").write_bytes(b"\0" * 64), BadFileError, "denoiser.safetensors"),
    (_set("factor", 0), BadFileError, "factor"),
    (_set("unet", {"base_channels": 8}), BadFileError, "missing keys"),
    (_set("unet", {**UPSCALER_PRESETS["tiny"].to_dict(), "base_channels": 16, "norm_groups": 4}), BadFileError,
     "does not match"),
    (lambda f: (f / "config.json").write_text(json.dumps({"format": "pixeldrift-model/1"})), BadFileError,
     "is not 'pixeldrift-upscaler/1'"),
])
def test_bad_folders_are_refused_naming_the_file(acting_upscaler_dir, tmp_path, edit, error, message):
    with pytest.raises(error, match=message):
        load_upscaler(_broken(acting_upscaler_dir, tmp_path, edit))


def test_a_missing_folder_is_refused(tmp_path):
    with pytest.raises(BadFileError, match="no such folder"):
        load_upscaler(tmp_path / "nothing")
    assert not is_upscaler_folder(tmp_path / "nothing")
