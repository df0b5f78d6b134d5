"""A folder saved by current transformers (5.x) has tokenizer.json and no vocab.json/merges.txt (issue 15):
it opens, and encodes prompts exactly as the same folder with the older files does."""

import shutil

import pytest
import torch

from pixeldrift.pretrained import open_model


def resaved(folder, dest):
    """The folder with each tokenizer written again by the installed transformers' save_pretrained."""
    from transformers import CLIPTokenizer

    shutil.copytree(folder, dest)
    for name in ("tokenizer", "tokenizer_2"):
        if (folder / name).is_dir():
            shutil.rmtree(dest / name)
            CLIPTokenizer.from_pretrained(str(folder / name), local_files_only=True).save_pretrained(str(dest / name))
            assert (dest / name / "tokenizer.json").is_file() and not (dest / name / "vocab.json").exists()
    return dest


@pytest.mark.parametrize("family", ["sd1", "sdxl"])
def test_a_folder_with_tokenizer_json_encodes_like_the_original(family, sd1_folder, sdxl_folder, tmp_path):
    folder = sd1_folder if family == "sd1" else sdxl_folder
    original, new = open_model(folder), open_model(resaved(folder, tmp_path / "new"))
    prompts, negative = ["a cat on the mat, " * 10], [""]  # longer than one 75-token window
    (cond_a, uncond_a), (cond_b, uncond_b) = (m.encode_prompts(prompts, negative) for m in (original, new))
    for key in cond_a:
        assert torch.equal(cond_a[key], cond_b[key]) and torch.equal(uncond_a[key], uncond_b[key]), key
    pads = [(t.bos_token_id, t.eos_token_id, t.pad_token_id) for t in new.prompt_encoder.tokenizers]
    assert pads == [(t.bos_token_id, t.eos_token_id, t.pad_token_id) for t in original.prompt_encoder.tokenizers]
