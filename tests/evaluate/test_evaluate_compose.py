"""The compositional benchmark: the ground-truth model scores at the top, broken models do not."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from pixeldrift.cli.main import cli
from pixeldrift.evaluate.compose import (BenchmarkError, BenchmarkPrompt, ComposeSettings, load_generator,
                                         load_prompts, overall, run_compose, score, timed_scores)
from pixeldrift.evaluate.compose_report import comparison_table, report_dict, write_report
from pixeldrift.world import CATEGORIES, parse_prompt, render


def test_groundtruth_scores_at_least_99_5_percent_on_the_held_out_set():
    settings = ComposeSettings(seeds=(0, 1, 2, 3))
    results, failures = run_compose(load_generator("groundtruth", 64), load_prompts("heldout"), settings)
    scores = score(results)
    assert list(scores) == list(CATEGORIES)
    assert overall(scores) >= 0.995 and len(failures) <= 0.005 * len(results)


def test_a_model_that_draws_the_wrong_scene_is_caught_in_every_category():
    def off_by_one_seed(prompts, seeds):  # renders the *next* held-out prompt instead
        return [render(parse_prompt(prompts[(i + 1) % len(prompts)]), 64, s) for i, s in enumerate(seeds)]

    prompts = load_prompts("heldout")
    results, failures = run_compose(off_by_one_seed, prompts, ComposeSettings(seeds=(0,), batch_size=1000))
    assert overall(score(results)) < 0.2 and failures


def test_blank_images_score_zero_and_the_report_shows_the_failures(tmp_path):
    def blank(prompts, seeds):
        return [np.full((64, 64, 3), 250, dtype=np.uint8) for _ in prompts]

    settings = ComposeSettings(model="blank", seeds=(0, 1))
    results, failures = run_compose(blank, load_prompts("heldout")[:12], settings)  # 9 single, 3 two objects
    scores = score(results)
    assert overall(scores) == 0.0
    report = report_dict(settings, scores, results)
    written = write_report(tmp_path, report, failures)
    assert [p.name for p in written] == ["report.json", "report.md", "failures.png"]
    saved = json.loads((tmp_path / "report.json").read_text())
    assert saved["settings"]["seeds"] == [0, 1] and saved["settings"]["model"] == "blank"
    assert len(saved["samples"]) == 24 and saved["overall"] == 0.0
    assert "| single object | 0 | 18 | 0.0% |" in (tmp_path / "report.md").read_text()
    assert list(tmp_path.glob(".*")) == []  # no temporary files left


def test_runs_side_by_side_in_one_table():
    prompts, settings = load_prompts("heldout")[:12], ComposeSettings(seeds=(0,))
    truth, seconds = timed_scores(load_generator("groundtruth", 64), prompts, settings)
    blank, _ = timed_scores(lambda p, s: [np.full((64, 64, 3), 250, dtype=np.uint8)] * len(p), prompts, settings)
    table = comparison_table("run", [("truth", truth, {"s/image": f"{seconds:.3f}"}),
                                     ("blank", blank, {"s/image": "-"})])
    assert table.splitlines() == ["| run | single object | two objects | overall | s/image |",
                                  "|---|---:|---:|---:|---:|",
                                  f"| truth | 100.0% | 100.0% | **100.0%** | {seconds:.3f} |",
                                  "| blank | 0.0% | 0.0% | **0.0%** | - |"]


def test_model_output_count_must_match():
    with pytest.raises(BenchmarkError, match="returned 0 images for 4 prompts"):
        run_compose(lambda prompts, seeds: [], [BenchmarkPrompt("colours", "a red star")], ComposeSettings())


def test_unknown_model_and_bad_settings_name_what_is_accepted():
    with pytest.raises(BenchmarkError, match="'sdxl' is not known; accepted: groundtruth"):
        load_generator("sdxl", 64)
    with pytest.raises(BenchmarkError, match="size"):
        ComposeSettings(size=100)
    with pytest.raises(BenchmarkError, match="seeds"):
        ComposeSettings(seeds=())


def test_prompt_files_are_parsed_and_bad_lines_are_located(tmp_path):
    good = tmp_path / "good.txt"
    good.write_text("# my prompts\nthree red circles\n\nan analog clock showing 4:20  # a comment\n")
    assert load_prompts(str(good)) == [BenchmarkPrompt("counting", "three red circles"),
                                       BenchmarkPrompt("clock time", "an analog clock showing 4:20")]
    bad = tmp_path / "bad.txt"
    bad.write_text("a red star\nthree fluffy circles\n")
    with pytest.raises(BenchmarkError, match=r"bad.txt:2: .*'fluffy'"):
        load_prompts(str(bad))
    with pytest.raises(BenchmarkError, match="neither 'heldout' nor a readable file"):
        load_prompts(str(tmp_path / "missing.txt"))


def test_cli_compose_writes_the_report_and_rejects_unknown_models(tmp_path):
    runner = CliRunner()
    prompts = tmp_path / "p.txt"
    prompts.write_text("a purple star\nfive stars\na sign that says FOX\n")
    result = runner.invoke(cli, ["bench", "compose", "--model", "groundtruth", "--prompts", str(prompts),
                                 "--seeds", "0,1", "--out", str(tmp_path / "out"), "--fail-under", "0.995"])
    assert result.exit_code == 0, result.output
    assert "| colours | 2 | 2 | 100.0% |" in result.output
    assert (tmp_path / "out" / "report.json").exists() and not (tmp_path / "out" / "failures.png").exists()
    unknown = runner.invoke(cli, ["bench", "compose", "--model", "dalle"])
    assert unknown.exit_code == 2 and "accepted: groundtruth" in unknown.output
    helped = runner.invoke(cli, ["bench", "compose", "--help"])
    assert helped.exit_code == 0 and "Examples:" in helped.output
