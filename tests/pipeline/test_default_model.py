"""The embedded default model ships complete, small, and generates reproducibly."""

from pixeldrift.pipeline import DEFAULT_MODEL_DIR, GenerationRequest, load_model

MAX_MODEL_BYTES = 25 * 2**20


def test_default_model_folder_is_complete_and_within_budget():
    files = {p.name: p.stat().st_size for p in DEFAULT_MODEL_DIR.iterdir()}
    weights = {f"{part}.safetensors" for part in load_model().config.weight_files}
    assert {"denoiser.safetensors", "vae.safetensors"} <= weights
    assert {"config.json", "README.md"} | weights == files.keys()  # nothing missing, nothing stray
    assert sum(files.values()) <= MAX_MODEL_BYTES


def test_default_model_generates_the_same_image_twice():
    model = load_model()
    assert model.config.image_size == 64
    run = lambda: model.generate(GenerationRequest("two green stars", steps=3, seed=11))[0].image.tobytes()
    assert run() == run()
