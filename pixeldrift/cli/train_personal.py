"""`pixeldrift train lora|dreambooth|textual-inversion`: personalisation of a frozen pixeldrift model, or of a
Stable Diffusion checkpoint (--base), on a folder of one's own images (captions in metadata.jsonl, or a .txt
beside each image). Resumable like every run; `--check` validates every image and caption (each bad file
named) and trains nothing."""

from __future__ import annotations

import functools
from pathlib import Path

import click
from click.core import ParameterSource

from pixeldrift.cli.train import _config, _run, _trainer_options, train
from pixeldrift.nets.lora import MAX_RANK

OUT = click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
                   help="Run folder: checkpoint, training log, samples (and DreamBooth's class images).")
ANY_BASE = click.option("--base", type=click.Path(path_type=Path), default=Path("models/default"), show_default=True,
                        help="The model to personalise, never changed: a pixeldrift model folder, or a Stable "
                             "Diffusion checkpoint (a diffusers folder or one .safetensors file: SD 1.x, 2.x, SDXL).")
FILE = click.Path(dir_okay=False, path_type=Path)


def _is_stable_diffusion(base: Path) -> bool:
    """A diffusers folder or a single checkpoint file, not a pixeldrift model folder."""
    return not (base / "config.json").is_file() or (base / "model_index.json").is_file()


def _token(help_text: str):
    return click.option("--token", default="sks", show_default=True, help=help_text)

PERSONAL_DEFAULTS = dict(steps=400, batch_size=8, warmup=20, ema=0.99, checkpoint_every=100)


def _lora_shape(function):
    options = [
        click.option("--rank", type=click.IntRange(1, MAX_RANK), default=4, show_default=True,
                     help="Rank r of each low-rank update."),
        click.option("--alpha", type=click.FloatRange(0, min_open=True),
                     help="The update is scaled by alpha / rank (default: alpha = rank, a scale of 1)."),
        click.option("--convolutions", is_flag=True, help="Adapt every convolution of the denoiser too."),
        click.option("--text-encoder", "adapt_text", is_flag=True,
                     help="Adapt the text encoder's attention projections too."),
    ]
    return functools.reduce(lambda f, option: option(f), reversed(options), function)


def _samples(function):
    options = [
        click.option("--sample-every", type=click.IntRange(0), default=0, show_default=True,
                     help="Every N steps write OUT/samples-STEP.png: four seeds of --sample-prompt (0: never)."),
        click.option("--sample-prompt", default="a red sks shape", show_default=True,
                     help="The fixed prompt of those samples."),
    ]
    return functools.reduce(lambda f, option: option(f), reversed(options), function)


def _lora_settings(rank, alpha, convolutions, adapt_text):
    from pixeldrift.train.lora import LoRASettings

    return LoRASettings(rank=rank, alpha=float(alpha if alpha is not None else rank), convolutions=convolutions,
                        text_encoder=adapt_text)


def _refuse_world_and_size(data) -> None:
    if data == "world" or click.get_current_context().get_parameter_source("size") is not ParameterSource.DEFAULT:
        raise click.UsageError("personalisation trains on --data FOLDER (your images and their captions) at the base "
                               "model's size; give --data and leave out --size")


def _train(job, out: Path, sample_every: int, sample_prompt: str, export: Path | None) -> None:
    """job(on_eval, eval_every), with samples of the prompt every N steps (none for 0); then say what it wrote."""
    from pixeldrift.train.evaluation import prompt_samples_hook

    hook = prompt_samples_hook(out, sample_prompt) if sample_every else None
    _run(lambda: job(hook, sample_every))
    if export:
        click.echo(f"wrote {export}")


def _check(trainer, resume) -> None:
    from pixeldrift.train.run import check_run

    click.echo(check_run(trainer, resume))
    for line in trainer.data.size_report():
        click.echo(f"  {line}")


def _command_line(name: str, options: dict, **named) -> str:
    flags = {key: "" if value is True else f" {value}" for key, value in named.items() if value not in (None, False)}
    given = " ".join(f"--{key.replace('_', '-')}{value}" for key, value in flags.items())
    return (f"pixeldrift train {name} {given} --steps {options['steps']} --batch-size {options['batch_size']} "
            f"--lr {options['lr']}")


@train.command("lora")
@_trainer_options(lr=2e-3, **PERSONAL_DEFAULTS)
@ANY_BASE
@_lora_shape
@click.option("--caption-dropout", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="Fraction of captions replaced by the empty prompt.")
@_samples
@OUT
@click.option("--export", type=FILE, help="Write the LoRA file (.safetensors, kohya layout) here at the end.")
def train_lora_command(out, base, rank, alpha, convolutions, adapt_text, caption_dropout, sample_every, sample_prompt,
                       export, data, size, resume, check, **options):
    """Train LoRA adapters on the denoiser's attention projections, the base frozen: Hu et al. 2021.

    \b
    Examples:
      pixeldrift train lora --data my_subject --out runs/lora --export sks.safetensors
      pixeldrift train lora --data my_subject --rank 8 --alpha 4 --convolutions --out runs/lora8 --resume
      pixeldrift train lora --data my_subject --out runs/lora --check   # validate every file, train nothing
      pixeldrift generate "a red sks shape" --lora sks.safetensors:0.8
      pixeldrift train lora --base sd15.safetensors --data my_style --rank 16 --lr 1e-4 --out runs/sd-lora
    """
    from pixeldrift.train.lora import lora_trainer, train_lora

    _refuse_world_and_size(data)
    settings = _run_value(lambda: _lora_settings(rank, alpha, convolutions, adapt_text))
    if _is_stable_diffusion(base):
        _train_stable_diffusion_lora(out, base, settings, caption_dropout or sample_every, export, data, resume,
                                     check, options)
        return
    if check:
        _run(lambda: _check(lora_trainer(out, _config(**options), base, data, settings, caption_dropout), resume))
        return
    command = _command_line("lora", options, base=base, data=data, rank=rank, alpha=alpha, out=out)
    _train(lambda hook, every: train_lora(out, _config(**options), base, data, settings, export, resume,
                                          caption_dropout, hook, every, command),
           out, sample_every, sample_prompt, export)


def _train_stable_diffusion_lora(out, base, settings, unsupported, export, data, resume, check, options) -> None:
    """`train lora --base` a Stable Diffusion checkpoint: adapters on its UNet's attention (train/sd_lora.py)."""
    from pixeldrift.train.sd_lora import sd_lora_trainer, train_sd_lora

    if settings.convolutions or settings.text_encoder or unsupported:
        raise click.UsageError("for a Stable Diffusion checkpoint LoRA adapts the UNet's attention projections; "
                               "leave out --convolutions, --text-encoder, --caption-dropout and --sample-every")
    if check:
        _run(lambda: _check(sd_lora_trainer(out, _config(**options), base, data, settings.rank, settings.alpha),
                            resume))
        return
    _train(lambda hook, every: train_sd_lora(out, _config(**options), base, data, settings.rank, settings.alpha,
                                             export=export, resume=resume), out, 0, "", export)


@train.command("dreambooth")
@_trainer_options(lr=5e-4, **PERSONAL_DEFAULTS)
@ANY_BASE
@_token("The rare identifier word every caption uses for the subject ('a red sks shape').")
@click.option("--no-prior", is_flag=True, help="Leave out prior preservation (the ablation: the class drifts).")
@click.option("--prior-weight", type=click.FloatRange(0, 100), default=1.0, show_default=True,
              help="lambda of the prior-preservation loss (Ruiz et al. eq. 2).")
@click.option("--class-images", type=click.IntRange(1, 10_000), default=50, show_default=True,
              help="Class images the base model draws from the captions without the token.")
@click.option("--class-data", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="A folder of captioned class images to preserve instead of drawing them (real images of "
                   "the class: kohya's regularisation folder); no caption may hold the token.")
@click.option("--lora", "use_lora", is_flag=True,
              help="Train LoRA adapters (exported as a .safetensors file) instead of the whole denoiser "
                   "(exported as a model folder); try --lr 2e-3 with it.")
@_lora_shape
@_samples
@OUT
@click.option("--export", type=click.Path(path_type=Path),
              help="Write the result here at the end: a model folder, or with --lora a .safetensors file; for "
                   "a Stable Diffusion base a diffusers folder, or one .safetensors file in the original layout.")
def train_dreambooth_command(out, base, token, no_prior, prior_weight, class_images, class_data, use_lora, rank,
                             alpha, convolutions, adapt_text, sample_every, sample_prompt, export, data, size, resume,
                             check, **options):
    """Bind a subject to a rare word (DreamBooth), with prior preservation on class images the base model
    draws itself: Ruiz et al. 2023.

    \b
    Examples:
      pixeldrift train dreambooth --data my_subject --token sks --out runs/db --export models/db-sks
      pixeldrift train dreambooth --data my_subject --no-prior --out runs/db-noprior --export models/db-noprior
      pixeldrift train dreambooth --data my_subject --lora --lr 2e-3 --out runs/db-lora --export db.safetensors
      pixeldrift train dreambooth --base sd15.safetensors --data my_cat --token sks --lr 5e-6 \\
          --out runs/sd-db --export models/sd15-sks            # or --export sd15-sks.safetensors
    """
    from pixeldrift.train.dreambooth import dreambooth_trainer, train_dreambooth

    _refuse_world_and_size(data)
    if class_data is not None and no_prior:
        raise click.UsageError("--class-data is for prior preservation: leave out --class-data or --no-prior")
    lora = _run_value(lambda: _lora_settings(rank, alpha, convolutions, adapt_text)) if use_lora else None
    if _is_stable_diffusion(base):
        _train_stable_diffusion_dreambooth(out, base, token, not no_prior, prior_weight, class_images, class_data,
                                           lora, sample_every, export, data, resume, check, options)
        return
    if check:
        _run(lambda: _check(dreambooth_trainer(out, _config(**options), base, data, token, not no_prior, prior_weight,
                                               class_images, lora, make_class_images=False, class_data=class_data),
                            resume))
        return
    command = _command_line("dreambooth", options, base=base, data=data, token=token, no_prior=no_prior or None,
                            class_data=class_data, lora=use_lora or None, out=out)
    _train(lambda hook, every: train_dreambooth(out, _config(**options), base, data, token, not no_prior,
                                                prior_weight, class_images, lora, export, resume, hook, every,
                                                command, class_data),
           out, sample_every, sample_prompt, export)


def _train_stable_diffusion_dreambooth(out, base, token, prior, prior_weight, class_images, class_data, lora,
                                       sample_every, export, data, resume, check, options) -> None:
    """`train dreambooth --base` a Stable Diffusion checkpoint (train/sd_dreambooth.py)."""
    from pixeldrift.train.sd_dreambooth import check_settings, sd_dreambooth_trainer, train_sd_dreambooth

    if sample_every:
        raise click.UsageError("--sample-every is not available for Stable Diffusion checkpoints yet")
    _run_value(lambda: check_settings(lora, export, prior, prior_weight, class_data))
    if check:
        _run(lambda: _check(sd_dreambooth_trainer(out, _config(**options), base, data, token, prior, prior_weight,
                                                  class_images, lora, make_class_images=False,
                                                  class_data=class_data), resume))
        return
    _train(lambda hook, every: train_sd_dreambooth(out, _config(**options), base, data, token, prior, prior_weight,
                                                   class_images, lora, export, resume, class_data),
           out, 0, "", export)


@train.command("textual-inversion")
@_trainer_options(lr=5e-3, **PERSONAL_DEFAULTS)
@ANY_BASE
@_token("The new word to learn; every caption uses it ('a red sks shape').")
@click.option("--init-word", default="shape", show_default=True,
              help="A word whose embedding the new one starts from (a coarse description of the subject).")
@click.option("--vectors", type=click.IntRange(1, 75), default=1, show_default=True,
              help="Vectors the word stands for (Stable Diffusion only; pixeldrift's words have one).")
@_samples
@OUT
@click.option("--export", type=FILE, help="Write the embedding (.safetensors, A1111's layout) here at the end.")
def train_inversion_command(out, base, token, init_word, vectors, sample_every, sample_prompt, export, data, size,
                            resume, check, **options):
    """Learn one new word's embedding (textual inversion), every weight frozen: Gal et al. 2023.

    \b
    Examples:
      pixeldrift train textual-inversion --data my_subject --token sks --out runs/ti --export sks.safetensors
      pixeldrift generate "a red sks shape" --embedding sks.safetensors
      pixeldrift train textual-inversion --base sd15.safetensors --data my_cat --token sks --init-word cat \\
          --vectors 4 --lr 5e-3 --out runs/sd-ti --export sks.safetensors
      pixeldrift generate "a photo of sks on a sofa" --model sd15.safetensors --embedding sks.safetensors
    """
    from pixeldrift.train.textual_inversion import inversion_trainer, train_textual_inversion

    _refuse_world_and_size(data)
    if _is_stable_diffusion(base):
        _train_stable_diffusion_inversion(out, base, token, init_word, vectors, sample_every, export, data, resume,
                                          check, options)
        return
    if vectors != 1:
        raise click.UsageError("--vectors is for Stable Diffusion checkpoints: a pixeldrift model's word has one")
    if check:
        _run(lambda: _check(inversion_trainer(out, _config(**options), base, data, token, init_word), resume))
        return
    command = _command_line("textual-inversion", options, base=base, data=data, token=token, out=out)
    _train(lambda hook, every: train_textual_inversion(out, _config(**options), base, data, token, init_word, export,
                                                       resume, hook, every, command),
           out, sample_every, sample_prompt, export)


def _train_stable_diffusion_inversion(out, base, token, init_word, vectors, sample_every, export, data, resume,
                                      check, options) -> None:
    """`train textual-inversion --base` a Stable Diffusion checkpoint (train/sd_textual_inversion.py)."""
    from pixeldrift.train.sd_textual_inversion import sd_inversion_trainer, train_sd_textual_inversion

    if sample_every:
        raise click.UsageError("--sample-every is not available for Stable Diffusion checkpoints yet")
    if check:
        _run(lambda: _check(sd_inversion_trainer(out, _config(**options), base, data, token, vectors, init_word),
                            resume))
        return
    if export is not None and export.stem.lower() != token.lower():
        click.echo(f"note: the word of {export.name} will be {export.stem.lower()!r}, its file name, as A1111 "
                   f"reads it; name it {token}{export.suffix} for the word {token!r}")
    _train(lambda hook, every: train_sd_textual_inversion(out, _config(**options), base, data, token, vectors,
                                                          init_word, export=export, resume=resume),
           out, 0, "", export)


def _run_value(make):
    """make(), its ValueError a usage error (bad settings, before anything is loaded)."""
    try:
        return make()
    except ValueError as error:
        raise click.UsageError(str(error)) from None
