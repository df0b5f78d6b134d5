"""Panoramas through a whole pipeline (a tiny random model, 32 px windows): sizes, records, refusals."""

import pytest
from PIL import Image

from pixeldrift.applications.panorama import PanoramaSettings, generate_panorama
from pixeldrift.pipeline import GenerationRequest, load_model


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    pass


@pytest.fixture(scope="module")
def model(random_model_dir):
    return load_model(random_model_dir)


def request(width, height=32, **more):
    return GenerationRequest("two red circles", width=width, height=height, steps=2, guidance=2.0, **more)


@pytest.mark.parametrize("method", ["independent", "multidiffusion", "sync"])
def test_every_method_makes_a_labelled_panorama_of_the_asked_size(model, method):
    settings = PanoramaSettings(method, stride=16, sync_strength=5.0, sync_sigma_stop=0.0)
    result, = generate_panorama(model, request(96, sampler="euler_ancestral"), settings)
    assert result.image.size == (96, 32)
    extra = result.record.extra
    assert (extra["Panorama"], extra["Panorama window"]) == (method, "32x32")
    assert extra["Panorama stride"] == ("32" if method == "independent" else "16")
    assert ("Sync strength" in extra) == (method == "sync")
    assert (result.record.width, result.record.height) == (96, 32)


def test_one_window_is_the_models_own_picture_byte_for_byte(model):
    alone = model.generate(request(32))[0].image
    for method in ("multidiffusion", "sync"):
        panorama = generate_panorama(model, request(32), PanoramaSettings(method, sync_strength=0.0))[0].image
        assert panorama.tobytes() == alone.tobytes()


def test_a_batch_gives_one_panorama_per_seed(model):
    results = generate_panorama(model, request(64, seed=5, batch_size=2), PanoramaSettings(stride=8))
    assert [r.record.seed for r in results] == [5, 6]


@pytest.mark.parametrize("width, height, stride, message", [
    (72, 32, 16, "panorama width 72 must be the window \\(32\\) plus a multiple of the stride \\(16\\), e.g. 64 or 80"),
    (16, 32, 16, "panorama width must be from 32 \\(one window\\) to 512 pixels, got 16"),
    (1024, 32, 16, "panorama width must be from 32 \\(one window\\) to 512 pixels, got 1024"),
    (64, 32, 12, "the window stride must be a multiple of 8 pixels from 8 to 32 \\(one window\\), got 12"),
    (64, 32, 48, "the window stride must be a multiple of 8 pixels from 8 to 32"),
    (32, 40, 16, "panorama height 40 must be the window \\(32\\) plus a multiple of the stride \\(16\\)"),
])
def test_sizes_the_windows_cannot_cover_are_refused_with_the_reason(model, width, height, stride, message):
    with pytest.raises(ValueError, match=message):
        generate_panorama(model, request(width, height), PanoramaSettings(stride=stride))


def test_bad_settings_and_image_inputs_are_refused(model):
    with pytest.raises(ValueError, match="unknown panorama method 'tiles'"):
        generate_panorama(model, request(64), PanoramaSettings("tiles"))
    with pytest.raises(ValueError, match="sync strength must be a number from 0 to 1000"):
        generate_panorama(model, request(64), PanoramaSettings("sync", sync_strength=-1))
    with pytest.raises(ValueError, match="made from text alone"):
        generate_panorama(model, request(64, init_image=Image.new("RGB", (64, 32))), PanoramaSettings())
