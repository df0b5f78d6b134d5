import pytest

from pixeldrift.pipeline import GenerationRequest, load_model
from pixeldrift.pipeline.grid import grid_cells, parse_axis, plan, request_for_cell, run_grid
from pixeldrift.provenance.label import read_labels


@pytest.fixture(scope="module")
def shipped():
    return load_model()


def test_axes_parse_with_types_and_aliases():
    assert parse_axis("steps=5,10").values == (5, 10)
    cfg = parse_axis("cfg=1,4.5")
    assert cfg.name == "guidance" and cfg.values == (1.0, 4.5) and cfg.title(4.5) == "cfg: 4.5"
    assert parse_axis("sampler=euler, dpmpp_2m").values == ("euler", "dpmpp_2m")


@pytest.mark.parametrize("text, message", [
    ("colour=red", "axis 'colour' is not a generation option"),
    ("steps", "must look like name=value1,value2"),
    ("steps=5,,10", "has an empty value"),
    ("steps=five", "'five' is not a whole number"),
    ("cfg=high", "'high' is not a number"),
])
def test_bad_axes_are_refused_by_name(text, message):
    with pytest.raises(ValueError, match=message):
        parse_axis(text)


def test_every_cell_is_checked_before_anything_runs(shipped):
    with pytest.raises(ValueError, match="unknown sampler"):
        plan(GenerationRequest("a red star"), parse_axis("sampler=euler,nope"), None, None, shipped)
    with pytest.raises(ValueError, match="does not occur in the prompt"):
        plan(GenerationRequest("a red star"), parse_axis("prompt_sr=blue,green"), None, None, shipped)
    with pytest.raises(ValueError, match="an option appears on two axes"):
        plan(GenerationRequest("a red star"), parse_axis("steps=2"), parse_axis("steps=3"), None, shipped)


def test_one_sheet_per_z_and_each_cell_can_be_made_again(shipped, tmp_path):
    sheets = run_grid(shipped, GenerationRequest("three red circles", seed=2), parse_axis("steps=2,4"),
                      parse_axis("prompt_sr=red,green"), parse_axis("cfg=1,3"))
    assert len(sheets) == 2 and all(len(s.images) == 4 for s in sheets)
    path = sheets[1].save(tmp_path / "sheet.png", watermark=False)
    cells = grid_cells(read_labels(path.read_bytes()).record)
    by_position = {(c["x"], c["y"]): c["settings"] for c in cells}
    assert by_position[(1, 1)]["prompt"] == "three green circles" and by_position[(1, 1)]["steps"] == 4
    assert by_position[(0, 0)]["cfg_scale"] == 3.0
    for index, cell in enumerate(cells):
        again = shipped.generate(request_for_cell(cell["settings"]))[0].image
        assert again.tobytes() == sheets[1].images[index].tobytes()
    assert sheets[0].images[0].tobytes() != sheets[1].images[0].tobytes()  # cfg 1 vs 3
