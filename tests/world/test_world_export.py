"""Dataset export: an imagefolder with metadata.jsonl, written all at once or not at all."""

import json

import numpy as np
import pytest
from PIL import Image

from pixeldrift.world import is_held_out, parse_prompt, render, spec_from_dict
from pixeldrift.world import export as export_module
from pixeldrift.world.export import ExportError, ExportSettings, export_dataset


def test_export_writes_images_and_matching_metadata(tmp_path):
    target = export_dataset(tmp_path / "world", ExportSettings(count=30, size=32, seed=4))
    lines = (target / "metadata.jsonl").read_text().splitlines()
    assert len(lines) == 30
    names = set()
    for line in lines:
        record = json.loads(line)
        assert {"file_name", "text", "spec", "seed", "style"} <= record.keys()
        spec = spec_from_dict(record["spec"])
        image = np.asarray(Image.open(target / record["file_name"]))
        assert np.array_equal(image, render(spec, 32, record["seed"]))  # the PNG is the spec, exactly
        assert parse_prompt(record["text"]) is not None and not is_held_out(spec)
        names.add(record["file_name"])
    assert names == {p.name for p in target.glob("*.png")}


def test_export_is_reproducible_and_heldout_split_is_held_out(tmp_path):
    first = export_dataset(tmp_path / "a", ExportSettings(count=10, seed=1, split="heldout"))
    second = export_dataset(tmp_path / "b", ExportSettings(count=10, seed=1, split="heldout"))
    assert (first / "metadata.jsonl").read_text() == (second / "metadata.jsonl").read_text()
    for line in (first / "metadata.jsonl").read_text().splitlines():
        assert is_held_out(spec_from_dict(json.loads(line)["spec"]))


def test_existing_target_and_bad_settings_are_refused(tmp_path):
    (tmp_path / "taken").mkdir()
    with pytest.raises(ExportError, match="already exists"):
        export_dataset(tmp_path / "taken", ExportSettings(count=1))
    with pytest.raises(ExportError, match="count"):
        ExportSettings(count=0)
    with pytest.raises(ExportError, match="size: 50"):
        ExportSettings(count=1, size=50)
    with pytest.raises(ExportError, match="split"):
        ExportSettings(count=1, split="test")


def test_a_failure_half_way_leaves_nothing_behind(tmp_path, monkeypatch):
    calls = []
    real_render = export_module.render

    def failing_render(spec, size, seed):
        calls.append(seed)
        if len(calls) == 5:
            raise RuntimeError("disk on fire")
        return real_render(spec, size, seed)

    monkeypatch.setattr(export_module, "render", failing_render)
    with pytest.raises(RuntimeError, match="disk on fire"):
        export_dataset(tmp_path / "world", ExportSettings(count=10))
    assert list(tmp_path.iterdir()) == []
