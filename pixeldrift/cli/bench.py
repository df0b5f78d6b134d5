"""`pixeldrift bench`: benchmarks that score what a model makes."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from pixeldrift.evaluate.compose import (DEFAULT_SEEDS, MODELS, ComposeSettings, load_generator,
                                         load_prompts, overall, run_compose, score)
from pixeldrift.evaluate.compose_report import markdown_table, report_dict, write_report
from pixeldrift.evaluate.feature_distances import fid, kid
from pixeldrift.evaluate.feature_network import (MAX_IMAGES, convert_pytorch_fid_weights, folder_features,
                                                 image_paths, load_feature_network)
from pixeldrift.world import IMAGE_SIZES


def _seed_list(ctx, param, value: str) -> tuple[int, ...]:
    try:
        seeds = tuple(int(v) for v in value.split(",") if v.strip())
    except ValueError:
        raise click.BadParameter(f"expected comma-separated integers, got {value!r}") from None
    if not seeds:
        raise click.BadParameter("expected at least one seed")
    return seeds


@click.group()
def bench() -> None:
    """Benchmarks that score generated images exactly.

    \b
    Examples:
      pixeldrift bench compose --model groundtruth
      pixeldrift bench compose --help
      pixeldrift bench fid --real DIR --fake DIR --features fid_inception.safetensors
    """


@bench.command("compose")
@click.option("--model", default="groundtruth", show_default=True,
              help=f"The model to generate with: {', '.join(MODELS)}, default (the embedded model) "
                   "or a model folder.")
@click.option("--prompts", default="heldout", show_default=True,
              help="'heldout' (the world's held-out prompt set) or a text file with one prompt per line.")
@click.option("--size", type=click.Choice([str(s) for s in IMAGE_SIZES]), default="64", show_default=True,
              help="Image side in pixels.")
@click.option("--seeds", default=",".join(map(str, DEFAULT_SEEDS)), show_default=True, callback=_seed_list,
              help="Comma-separated seeds; every prompt is generated once per seed.")
@click.option("--batch-size", type=click.IntRange(1, 4096), default=32, show_default=True,
              help="Prompts per call to the model.")
@click.option("--steps", type=click.IntRange(1, 1000), default=20, show_default=True, help="Sampling steps.")
@click.option("--guidance", type=click.FloatRange(0, 50), default=None, help="Guidance scale [model default].")
@click.option("--sampler", default=None, help="Sampler [model default].")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for report.json, report.md and failures.png [default: outputs/bench/compose-MODEL].")
@click.option("--fail-under", type=click.FloatRange(0, 1), default=None,
              help="Exit with status 1 when the overall accuracy is below this (e.g. 0.995).")
def compose(model: str, prompts: str, size: str, seeds: tuple[int, ...], batch_size: int, steps: int,
            guidance: float | None, sampler: str | None, out: Path | None, fail_under: float | None) -> None:
    """Compositional accuracy: counting, colours, positions, clocks, quantities, text.

    Generates every prompt once per seed, reads each image back with the world's
    exact verifier and prints the accuracy per category (GenEval's six plus
    clock time, quantity and text) and overall (the mean of the categories).
    Writes report.json (all settings and every sample), report.md (the table)
    and failures.png (failed images with their prompts).

    \b
    Examples:
      pixeldrift bench compose --model groundtruth
      pixeldrift bench compose --model default --out outputs/compose
      pixeldrift bench compose --model groundtruth --size 128 --seeds 0,1,2,3,4,5,6,7
      pixeldrift bench compose --prompts my_prompts.txt --out outputs/mine --fail-under 0.9
    """
    try:
        settings = ComposeSettings(model=model, prompts=prompts, size=int(size), seeds=seeds, batch_size=batch_size,
                                   steps=steps, guidance=guidance, sampler=sampler)
        generate = load_generator(model, settings.size, steps, guidance, sampler)
        prompt_set = load_prompts(prompts)
        results, failures = run_compose(generate, prompt_set, settings)
    except ValueError as error:  # BenchmarkError, or a bad generation setting
        raise click.UsageError(str(error)) from None
    scores = score(results)
    report = report_dict(settings, scores, results)
    written = write_report(out or Path("outputs/bench") / f"compose-{model}", report, failures)
    click.echo(markdown_table(report))
    click.echo("wrote " + ", ".join(map(str, written)))
    if fail_under is not None and overall(scores) < fail_under:
        raise click.ClickException(f"overall accuracy {overall(scores):.4f} is below --fail-under {fail_under}")


def _feature_options(function):
    options = [
        click.option("--real", type=click.Path(file_okay=False, path_type=Path), required=True,
                     help="Folder of real images (those directly inside it: png, jpg, webp, bmp, gif)."),
        click.option("--fake", type=click.Path(file_okay=False, path_type=Path), required=True,
                     help="Folder of generated images."),
        click.option("--features", type=click.Path(dir_okay=False, path_type=Path), required=True,
                     help="The FID Inception-v3 as safetensors (convert pytorch-fid's .pth with "
                          "`pixeldrift bench fid-convert`); nothing is downloaded."),
        click.option("--max-images", type=click.IntRange(2, MAX_IMAGES), default=10_000, show_default=True,
                     help="Refuse a folder with more images than this."),
        click.option("--batch-size", type=click.IntRange(1, 512), default=32, show_default=True,
                     help="Images per forward pass of the network (memory is bounded by it)."),
        click.option("--device", default="cpu", show_default=True, help="cpu or cuda."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def _both_features(real: Path, fake: Path, features: Path, max_images: int, batch_size: int, device: str):
    """Both folders' features, each folder checked (count) before the network reads an image."""
    from tqdm import tqdm
    for folder in (real, fake):
        image_paths(folder, max_images)
    network = load_feature_network(features, device)
    found = []
    for name, folder in (("real", real), ("fake", fake)):
        if found and folder.resolve() == real.resolve():  # one folder against itself: read it once
            found.append(found[0])
            continue
        with tqdm(desc=f"{name} features", unit="img", file=sys.stderr, dynamic_ncols=True) as bar:
            def progress(done, total, bar=bar):
                bar.total, bar.n = total, done
                bar.refresh()
            found.append(folder_features(network, folder, max_images, batch_size, progress))
    return found


@bench.command("fid")
@_feature_options
def fid_command(real, fake, features, max_images, batch_size, device) -> None:
    """Frechet Inception Distance between two image folders (Heusel et al. 2017).

    Features are the 2048 pool features of the FID Inception-v3 (images resized to 299x299 as pytorch-fid
    does); the matrix square root by symmetric eigen-decomposition (pixeldrift.evaluate.feature_distances).
    Below ~2,000 images per folder the covariance is rank-deficient and FID is biased
    upwards: compare only figures made with the same counts.

    \b
    Examples:
      pixeldrift bench fid-convert pt_inception-2015-12-05-6726825d.pth fid_inception.safetensors
      pixeldrift bench fid --real data/real --fake outputs/fake --features fid_inception.safetensors
    """
    try:
        real_features, fake_features = _both_features(real, fake, features, max_images, batch_size, device)
        click.echo(f"FID {fid(real_features, fake_features):.4f} ({len(real_features)} real, "
                   f"{len(fake_features)} fake images)")
    except ValueError as error:
        raise click.ClickException(str(error)) from None


@bench.command("kid")
@_feature_options
@click.option("--subsets", type=click.IntRange(1, 10_000), default=100, show_default=True)
@click.option("--subset-size", type=click.IntRange(2, MAX_IMAGES), default=1000, show_default=True,
              help="Features per subset and set (at most the smaller folder's count).")
@click.option("--seed", type=click.IntRange(0), default=0, show_default=True, help="Seed of the subsets.")
def kid_command(real, fake, features, max_images, batch_size, device, subsets, subset_size, seed) -> None:
    """Kernel Inception Distance between two image folders (Binkowski et al. 2018).

    Unbiased MMD^2 with the cubic polynomial kernel on the FID Inception-v3's features, averaged over
    random subsets; prints the mean and the standard deviation over subsets.

    \b
    Example:
      pixeldrift bench kid --real data/real --fake outputs/fake --features fid_inception.safetensors
    """
    try:
        real_features, fake_features = _both_features(real, fake, features, max_images, batch_size, device)
        result = kid(real_features, fake_features, subsets, subset_size, seed)
        click.echo(f"KID {result.mean:.6f} +- {result.std:.6f} ({result.subsets} subsets of {result.subset_size}; "
                   f"{len(real_features)} real, {len(fake_features)} fake images)")
    except ValueError as error:
        raise click.ClickException(str(error)) from None


@bench.command("fid-convert")
@click.argument("source", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("target", type=click.Path(dir_okay=False, path_type=Path))
def fid_convert_command(source: Path, target: Path) -> None:
    """Convert pytorch-fid's Inception weights (.pth) to the safetensors file `fid` and `kid` take.

    SOURCE is pt_inception-2015-12-05-6726825d.pth as pytorch-fid's release publishes it (or its cache,
    ~/.cache/torch/hub/checkpoints/). It is read with torch.load(weights_only=True): tensors only, no code.

    \b
    Example:
      pixeldrift bench fid-convert pt_inception-2015-12-05-6726825d.pth fid_inception.safetensors
    """
    try:
        click.echo(f"wrote {convert_pytorch_fid_weights(source, target)}")
    except ValueError as error:
        raise click.ClickException(str(error)) from None
