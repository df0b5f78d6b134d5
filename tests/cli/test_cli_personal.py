"""`pixeldrift train lora|dreambooth|textual-inversion` and `generate --lora/--embedding` on a tiny model."""

import numpy as np
import pytest
from PIL import Image

from pixeldrift.cli.main import run

TINY = ["--steps", "2", "--batch-size", "2", "--warmup", "1", "--threads", "1"]


@pytest.fixture
def subject(tmp_path):
    folder = tmp_path / "subject"
    folder.mkdir()
    for index, size in enumerate([(32, 32), (32, 32), (48, 32)]):
        Image.fromarray(np.full((size[1], size[0], 3), 60 * index, np.uint8)).save(folder / f"{index}.png")
        (folder / f"{index}.txt").write_text(f"a sks shape {index}")
    return folder


def test_check_names_each_bad_file_and_trains_nothing(random_model_dir, subject, tmp_path, capsys):
    (subject / "3.png").write_bytes(b"not a picture")
    (subject / "3.txt").write_text("a sks shape")
    Image.new("RGB", (32, 32)).save(subject / "4.png")
    for command in (["lora"], ["dreambooth"]):
        code = run(["train", *command, *TINY, "--base", str(random_model_dir), "--data", str(subject),
                    "--out", str(tmp_path / "run"), "--check"])
        err = capsys.readouterr().err
        assert code == 1 and "2 bad files" in err and "3.png: not an image" in err and "4.png: no caption" in err, err
    assert not (tmp_path / "run").exists()


def test_check_of_a_good_folder_reports_mixed_sizes_by_name(random_model_dir, subject, tmp_path, capsys):
    code = run(["train", "lora", *TINY, "--base", str(random_model_dir), "--data", str(subject),
                "--out", str(tmp_path / "run"), "--check"])
    out = capsys.readouterr().out
    assert code == 0 and out.startswith(f"ok: 3 captioned images in {subject}; "), out
    assert "2.png: 48x32 (not square: stretched), resized to 32x32" in out
    assert not (tmp_path / "run").exists()


def test_train_a_lora_with_samples_and_generate_with_it_at_a_weight(random_model_dir, subject, tmp_path, capsys):
    lora = tmp_path / "sks.safetensors"
    code = run(["train", "lora", *TINY, "--base", str(random_model_dir), "--data", str(subject), "--rank", "2",
                "--sample-every", "2", "--sample-prompt", "a sks shape", "--out", str(tmp_path / "run"),
                "--export", str(lora)])
    assert code == 0, capsys.readouterr().err
    assert lora.is_file() and (tmp_path / "run" / "samples-000002.png").is_file()
    common = ["generate", "a sks shape", "--model", str(random_model_dir), "--steps", "2", "--size", "32"]
    assert run([*common, "-o", str(tmp_path / "plain.png")]) == 0
    assert run([*common, "--lora", f"{lora}:0.5", "-o", str(tmp_path / "adapted.png")]) == 0
    assert Image.open(tmp_path / "plain.png").tobytes() != Image.open(tmp_path / "adapted.png").tobytes()


def test_the_world_stream_and_an_embedding_for_the_wrong_encoder_are_refused(random_model_dir, subject, tmp_path,
                                                                              capsys):
    code = run(["train", "lora", *TINY, "--base", str(random_model_dir), "--out", str(tmp_path / "run")])
    assert code == 2 and "give --data" in capsys.readouterr().err
    code = run(["train", "textual-inversion", *TINY, "--base", str(random_model_dir), "--data", str(subject),
                "--out", str(tmp_path / "run")])
    assert code == 1 and "textual inversion needs the MiniLM text encoder" in capsys.readouterr().err


def test_dreambooth_with_class_data_trains_and_records_the_command(random_model_dir, subject, tmp_path, capsys):
    given = tmp_path / "regularisation"
    given.mkdir()
    Image.fromarray(np.full((32, 32, 3), 90, np.uint8)).save(given / "0.png")
    (given / "0.txt").write_text("two red circles")
    common = ["train", "dreambooth", *TINY, "--base", str(random_model_dir), "--data", str(subject)]
    code = run([*common, "--class-data", str(given), "--no-prior", "--out", str(tmp_path / "refused")])
    assert code == 2 and "leave out --class-data or --no-prior" in capsys.readouterr().err
    assert not (tmp_path / "refused").exists()
    code = run([*common, "--class-data", str(given), "--out", str(tmp_path / "run"), "--export", str(tmp_path / "db")])
    assert code == 0, capsys.readouterr().err
    about = (tmp_path / "db" / "config.json").read_text()
    assert f"--class-data {given}" in about and "--no-prior" not in about
