"""`pixeldrift train vae|t2i|controlnet|lora|dreambooth|textual-inversion`: the training recipes, resumable, and
the same under torchrun (the personalisation commands live in cli/train_personal.py)."""

from __future__ import annotations

import os
from pathlib import Path

import click
from click.core import ParameterSource
import torch

from pixeldrift.train.trainer import TrainerConfig, TrainingDiverged


def _trainer_options(function=None, *, steps: int = 2000, batch_size: int = 32, lr: float = 1e-3,
                     warmup: int = 100, ema: float = 0.999, checkpoint_every: int = 250):
    """The options every `train` command shares; the personalisation commands give other defaults."""
    if function is None:
        return lambda f: _trainer_options(f, steps=steps, batch_size=batch_size, lr=lr, warmup=warmup, ema=ema,
                                          checkpoint_every=checkpoint_every)
    options = [
        click.option("--steps", type=click.IntRange(1), default=steps, show_default=True, help="Optimizer steps."),
        click.option("--batch-size", type=click.IntRange(1), default=batch_size, show_default=True,
                     help="Global batch (split over torchrun processes)."),
        click.option("--lr", type=float, default=lr, show_default=True, help="Peak learning rate."),
        click.option("--warmup", type=click.IntRange(0), default=warmup, show_default=True, help="Warm-up steps."),
        click.option("--ema", type=float, default=ema, show_default=True, help="EMA decay."),
        click.option("--checkpoint-every", type=click.IntRange(1), default=checkpoint_every, show_default=True),
        click.option("--seed", type=int, default=0, show_default=True),
        click.option("--device", default="cpu", show_default=True, help="cpu or cuda."),
        click.option("--bf16", is_flag=True, help="bf16 autocast (CUDA only)."),
        click.option("--compile", "compile_", is_flag=True, help="torch.compile the model."),
        click.option("--data", default="world", show_default=True,
                     help="'world' (the endless challenge world) or a folder with metadata.jsonl."),
        click.option("--size", type=click.Choice(["32", "64", "128"]), default="64", show_default=True),
        click.option("--resume", is_flag=True, help="Continue from OUT/checkpoint.safetensors, exactly."),
        click.option("--check", is_flag=True, help="Check the data (every image and caption), the model and, with "
                     "--resume, the checkpoint; report and exit without training or writing anything."),
        click.option("--threads", type=click.IntRange(1), default=1, show_default=True,
                     help="CPU threads. 1 is fastest for these small models: torch's worker threads do not "
                          "get the denormal flush: a VAE backward pass measured 0.29 s on 1 thread, 1.9 s on 2."),
        click.option("--data-workers", type=click.IntRange(0, 64), default=0, show_default=True,
                     help="Processes that render batches ahead (for GPUs; the same examples either way)."),
        click.option("--max-minutes", type=click.FloatRange(0), default=0, show_default=True,
                     help="Stop after this much wall time (checkpointed and exported as at the end); 0: no limit."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def _config(steps, batch_size, lr, warmup, ema, checkpoint_every, seed, device, bf16, compile_, threads,
            data_workers, max_minutes) -> TrainerConfig:
    torch.set_num_threads(threads)
    try:
        return TrainerConfig(steps=steps, batch_size=batch_size, learning_rate=lr, warmup_steps=warmup,
                             ema_decay=ema, checkpoint_every=checkpoint_every, seed=seed, device=device,
                             bf16=bf16, compile=compile_, data_workers=data_workers, max_minutes=max_minutes)
    except ValueError as error:
        raise click.UsageError(str(error)) from None


@click.group()
def train() -> None:
    """Train the VAE, then the text-to-image model.

    \b
    Examples:
      pixeldrift train vae --steps 1500 --out runs/vae
      pixeldrift train t2i --vae runs/vae --steps 4000 --out runs/t2i --export models/default
      pixeldrift train t2i --vae runs/vae --out runs/t2i --resume
      torchrun --nproc_per_node=2 -m pixeldrift.cli.main train t2i --vae runs/vae --out runs/t2i
    """


@train.command("vae")
@_trainer_options
@click.option("--preset", default="tiny", show_default=True, help="VAE size preset.")
@click.option("--latent-channels", type=click.IntRange(1, 64),
              help="Channels of the latent (default: the preset's, 4); more keep finer detail such as small "
                   "letters, and cost the denoiser little.")
@click.option("--scene-mix", type=click.Choice(["uniform", "signs"]), default="uniform", show_default=True,
              help="How often the world stream draws each kind of scene: signs draws 40% signs, whose thin "
                   "letters an autoencoder loses first.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True)
def train_vae_command(out, preset, latent_channels, scene_mix, data, size, resume, check, **options):
    """Train the KL autoencoder (64x64x3 <-> 16x16x4 by default).

    \b
    Examples:
      pixeldrift train vae --steps 1500 --batch-size 32 --out runs/vae
      pixeldrift train vae --latent-channels 8 --scene-mix signs --out runs/vae-signs
    """
    from pixeldrift.train.run import check_run, train_vae, vae_trainer
    shape = {"latent_channels": latent_channels, "scene_mix": scene_mix}
    if check:
        _run(lambda: click.echo(check_run(vae_trainer(out, _config(**options), preset, data, int(size), **shape),
                                          resume)))
        return
    _run(lambda: train_vae(out, _config(**options), preset=preset, data=data, size=int(size), resume=resume,
                           **shape))
    click.echo(f"wrote {out / 'vae.safetensors'}")


@train.command("t2i")
@_trainer_options
@click.option("--vae", "vae_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Folder of a trained VAE (from `train vae`), or a model folder whose VAE to reuse, e.g. "
                   "models/default; without it the model works on pixels.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--export", type=click.Path(file_okay=False, path_type=Path),
              help="Write a model folder here at the end.")
@click.option("--eval-every", type=click.IntRange(0), default=0, show_default=True,
              help="Every N steps write samples-STEP.png and the held-out accuracy to OUT/eval.csv (0: never).")
@click.option("--text-encoder", type=click.Choice(["minilm", "bytes", "class-label"]), default="minilm",
              show_default=True,
              help="minilm: frozen all-MiniLM-L6-v2 (better on the benchmark, see models/default); "
                   "bytes: our byte-level transformer, trained jointly; class-label: one learned token per class "
                   "of --data FOLDER (a sub-folder per class, or a label field in metadata.jsonl), and the "
                   "prompt is a class name.")
@click.option("--caption-dropout", type=click.FloatRange(0, 1), default=0.1, show_default=True,
              help="Fraction of captions (class labels, with class-label) replaced by the empty prompt (the "
                   "no-class token), which classifier-free guidance needs as its unconditional input.")
@click.option("--denoiser", type=click.Choice(["unet", "dit"]), default="unet", show_default=True,
              help="The denoiser network: a UNet with cross-attention, or a DiT (adaLN-Zero, cross-attention).")
@click.option("--denoiser-preset", type=click.Choice(["cpu", "tiny", "small", "base", "large"]), default="cpu",
              show_default=True, help="Its size: cpu is the laptop recipe (about 1.8M parameters); the others "
              "are the presets `pixeldrift nets` lists (base and large are for GPUs).")
@click.option("--init", type=click.Path(file_okay=False, path_type=Path),
              help="Train on from this model folder's weights (architecture, VAE and text encoder included), "
                   "with a fresh optimizer; e.g. models/default.")
@click.option("--prediction", "parameterization", type=click.Choice(["edm", "eps", "v", "flow"]), default="edm",
              show_default=True, help="What the network predicts (the objective): edm (x0 with EDM "
              "preconditioning), eps or v (1000-step VP schedule), flow (rectified-flow velocity).")
@click.option("--vp-schedule", type=click.Choice(["linear", "scaled_linear", "cosine"]), default="scaled_linear",
              show_default=True, help="eps and v: the VP schedule, linear as DDPM (1e-4 .. 0.02), scaled_linear "
              "as Stable Diffusion (0.00085 .. 0.012), or cosine.")
@click.option("--scene-mix", type=click.Choice(["uniform", "compositional"]), default="uniform", show_default=True,
              help="How often the world stream draws each kind of scene: uniform is the world's own mix; "
                   "compositional draws more counts, relations and colour pairs, fewer signs and clocks.")
def train_t2i_command(out, vae_dir, export, eval_every, text_encoder, caption_dropout, denoiser, denoiser_preset,
                      init, parameterization, vp_schedule, scene_mix, data, size, resume, check, **options):
    """Train the text-to-image model (text encoder + denoiser) on VAE latents, or on pixels without --vae.

    \b
    Examples:
      pixeldrift train t2i --vae runs/vae --steps 4000 --out runs/t2i --export models/default
      pixeldrift train t2i --vae runs/vae --denoiser dit --prediction flow --out runs/t2i-dit-flow
      pixeldrift train t2i --size 32 --prediction eps --vp-schedule linear --out runs/ddpm   # DDPM on pixels
      pixeldrift train t2i --vae runs/vae --denoiser-preset base --device cuda --bf16 --out runs/t2i-gpu
      pixeldrift train t2i --init models/default --seed 1 --lr 3e-4 --out runs/t2i-more   # train on
      pixeldrift train t2i --data my_images --out runs/mine --check   # check the data and model, train nothing
      pixeldrift train t2i --data shapes --text-encoder class-label --size 32 --out runs/cc --export models/cc
    """
    from pixeldrift.train.evaluation import evaluation_hook
    from pixeldrift.train.run import ModelChoice, check_run, text_to_image_trainer, train_text_to_image
    if init is not None:
        _refuse_with_init("vae_dir", "text_encoder", "denoiser", "denoiser_preset", "parameterization", "vp_schedule")
    choice = ModelChoice(text_encoder=text_encoder, denoiser=denoiser, denoiser_preset=denoiser_preset,
                         parameterization=parameterization, vp_schedule=vp_schedule)
    if check:
        _run(lambda: click.echo(check_run(text_to_image_trainer(out, _config(**options), vae_dir, data, int(size),
                                                                choice, init, scene_mix=scene_mix,
                                                                caption_dropout=caption_dropout), resume)))
        return
    hook = evaluation_hook(out, size=int(size)) if eval_every else None
    _run(lambda: train_text_to_image(out, _config(**options), vae_dir, data=data, size=int(size), export=export,
                                     resume=resume, choice=choice, init=init, on_eval=hook, eval_every=eval_every,
                                     scene_mix=scene_mix, caption_dropout=caption_dropout))
    if export and int(os.environ.get("RANK", "0")) == 0:  # under torchrun only rank 0 writes it
        click.echo(f"wrote the model folder {export}")


CONTROL_KINDS = ("edges", "scribble", "layout", "glyph", "clock")  # pipeline/control_maps.CONTROL_KINDS


@train.command("controlnet")
@_trainer_options
@click.option("--base", type=click.Path(file_okay=False, path_type=Path), default=Path("models/default"),
              show_default=True, help="The model folder to steer; it stays frozen, bit for bit.")
@click.option("--control", "kind", type=click.Choice(CONTROL_KINDS), required=True,
              help="The control map, drawn from each training scene: edges (Canny), scribble, layout (each "
                   "object in its colour), glyph (a sign's word), clock (its hands).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--export", type=click.Path(file_okay=False, path_type=Path),
              help="Write the ControlNet folder here at the end (config.json naming the base, weights, card).")
@click.option("--scene-mix", type=click.Choice(["uniform", "compositional", "signs"]), default="uniform",
              show_default=True, help="How often the world stream draws each kind of scene (signs: more signs, "
                                      "for a glyph ControlNet).")
@click.option("--caption-dropout", type=click.FloatRange(0, 1), default=0.5, show_default=True,
              help="Fraction of captions replaced by the empty prompt (the paper's 50%), so the control is read.")
@click.option("--init", type=click.Path(file_okay=False, path_type=Path),
              help="Start from this exported ControlNet folder (same kind, same base) and train on.")
def train_controlnet_command(out, base, kind, export, scene_mix, caption_dropout, init, data, size, resume, check,
                             **options):
    """Train a ControlNet for a frozen model on the world stream, its control maps drawn from the same scenes.

    The images are the base model's size (--size is ignored); --data must be world.

    \b
    Examples:
      pixeldrift train controlnet --base models/default --control layout --out runs/cn --export models/cn-layout
      pixeldrift train controlnet --control edges --steps 3000 --out runs/cn-edges --resume
      pixeldrift train controlnet --control layout --init models/cn-layout --lr 1e-4 --out runs/cn-layout-more
    """
    from pixeldrift.train.controlnet import controlnet_trainer, train_controlnet
    from pixeldrift.train.run import check_run
    if data != "world" or click.get_current_context().get_parameter_source("size") is not ParameterSource.DEFAULT:
        raise click.UsageError("a ControlNet trains on the world stream, whose scenes give the control maps, at "
                               "the base model's size; leave out --data and --size")
    if check:
        _run(lambda: click.echo(check_run(controlnet_trainer(out, _config(**options), base, kind, scene_mix,
                                                             caption_dropout, init), resume)))
        return
    command = (f"pixeldrift train controlnet --base {base} --control {kind} --steps {options['steps']} "
               f"--batch-size {options['batch_size']} --lr {options['lr']} --scene-mix {scene_mix} --out {out}"
               + (f" --init {init}" if init is not None else ""))
    _run(lambda: train_controlnet(out, _config(**options), base, kind, export=export, resume=resume,
                                  scene_mix=scene_mix, caption_dropout=caption_dropout, command=command, init=init))
    if export and int(os.environ.get("RANK", "0")) == 0:
        click.echo(f"wrote the ControlNet folder {export}")


_student_option = click.option("--student", type=click.Path(file_okay=False, path_type=Path),
                               help="Start the student from this folder's weights (same architecture) [the teacher's].")


@train.command("reflow")
@_trainer_options(steps=1500, batch_size=128, lr=2e-4, warmup=50, ema=0.995)
@click.option("--teacher", type=click.Path(file_okay=False, path_type=Path), default=Path("models/default"),
              show_default=True, help="The model whose ODE draws the couplings; the student starts from its weights.")
@click.option("--pairs", "pair_count", type=click.IntRange(1, 1_000_000), default=20_000, show_default=True,
              help="(noise, latent) couplings the teacher draws, in shards of 512 under OUT/pairs.")
@click.option("--pairs-from", type=click.Path(file_okay=False, path_type=Path),
              help="Train on the pairs of another run's folder (e.g. runs/reflow/pairs) instead of OUT/pairs.")
@click.option("--pair-steps", type=click.IntRange(1, 1000), help="Teacher steps per pair [teacher's default].")
@click.option("--pair-guidance", type=click.FloatRange(0, 50), help="Teacher guidance [teacher's default].")
@click.option("--pair-sampler", help="Teacher sampler, deterministic [teacher's default].")
@click.option("--sigma-max-share", type=click.FloatRange(0, 1), default=0.25, show_default=True,
              help="Share of each batch trained at sigma_max, where few-step sampling starts; 1 distils to one step.")
@click.option("--sample-steps", type=click.IntRange(1, 16), default=2, show_default=True,
              help="The exported folder's default number of steps.")
@_student_option
@click.option("--pairs-only", is_flag=True,
              help="Draw the pairs and stop (e.g. with more processes than the training will use).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--export", type=click.Path(file_okay=False, path_type=Path),
              help="Write the few-step model folder here at the end.")
def train_reflow_command(out, teacher, pair_count, pairs_from, pair_steps, pair_guidance, pair_sampler,
                         sigma_max_share, sample_steps, student, pairs_only, export, data, size, resume, check,
                         **options):
    """Reflow (rectified flow, Liu et al. 2023): straighten a model's paths for 1-4 step sampling.

    The teacher draws (noise, latent) couplings with its guided ODE sampler; the student, from the teacher's
    weights, learns to map each noise straight to its latent; guidance is distilled into it (sampled at guidance
    1). Resumable: drawn pair shards are kept and --resume continues the training. Under torchrun each process
    draws its own shards.

    \b
    Examples:
      pixeldrift train reflow --teacher models/default --pairs 20000 --out runs/reflow --export models/fast
      pixeldrift train reflow --teacher models/fast --pairs-from runs/reflow/pairs --sigma-max-share 1 \\
          --sample-steps 1 --out runs/one-step --export models/one-step   # distil to one step
    """
    from pixeldrift.train.reflow import PairSettings, check_reflow, train_reflow
    if data != "world" or click.get_current_context().get_parameter_source("size") is not ParameterSource.DEFAULT:
        raise click.UsageError("reflow trains on the couplings its teacher draws, at the teacher's size; leave out "
                               "--data and --size")
    try:
        pairs = PairSettings(count=pair_count, steps=pair_steps, guidance=pair_guidance, sampler=pair_sampler,
                             seed=options["seed"])
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    if check:
        _run(lambda: click.echo(check_reflow(teacher, pairs, pairs_from or out / "pairs")))
        return
    _run(lambda: train_reflow(out, _config(**options), teacher, pairs, export=export, resume=resume,
                              sigma_max_share=sigma_max_share, sample_steps=sample_steps, pairs_folder=pairs_from,
                              pairs_only=pairs_only, report=click.echo, student_folder=student))
    if export and not pairs_only and int(os.environ.get("RANK", "0")) == 0:
        click.echo(f"wrote the few-step model folder {export}")


@train.command("consistency")
@_trainer_options(steps=1500, batch_size=32, lr=5e-5, warmup=50, ema=0.995)
@click.option("--teacher", type=click.Path(file_okay=False, path_type=Path), default=Path("models/default"),
              show_default=True, help="The model to distil; the student starts from its weights.")
@click.option("--intervals", type=click.IntRange(2, 1280), default=40, show_default=True,
              help="Karras noise levels; the loss ties each to its neighbour, one teacher step apart.")
@click.option("--guidance", type=click.FloatRange(0, 50), help="The teacher's guidance, distilled [its default].")
@click.option("--solver", type=click.Choice(["euler", "heun"]), default="euler", show_default=True,
              help="The teacher's ODE step between neighbouring levels (heun: second order, two teacher calls).")
@click.option("--segments", type=click.IntRange(1, 16), default=1, show_default=True,
              help="Multistep consistency (Heek et al. 2024): consistent within this many segments of the path, "
                   "sampled deterministically in as many steps; 1 is Song et al.'s consistency model.")
@_student_option
@click.option("--sample-steps", type=click.IntRange(1, 16),
              help="The exported folder's default number of steps [2; with --segments, the segments].")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--export", type=click.Path(file_okay=False, path_type=Path),
              help="Write the few-step model folder here at the end.")
def train_consistency_command(out, teacher, intervals, guidance, solver, segments, student, sample_steps, export, data,
                              size, resume, check, **options):
    """Consistency distillation (Song et al. 2023): a model that draws in 1-4 calls, from a trained teacher.

    The student, from the teacher's weights, learns to give the same answer at neighbouring points of the
    teacher's guided ODE path (one Euler step of the teacher apart), so it jumps to the path's end from any
    point; sampled with the consistency sampler at guidance 1. Trains on the world stream at the teacher's size.

    \b
    Examples:
      pixeldrift train consistency --teacher models/default --out runs/cd --export models/cd
      pixeldrift train consistency --out runs/cd --steps 3000 --resume --export models/cd
      pixeldrift train consistency --segments 2 --student models/consistency --out runs/mcm --export models/mcm
    """
    from pixeldrift.train.consistency import DistillSettings, consistency_trainer, train_consistency
    from pixeldrift.train.run import check_run
    if data != "world" or click.get_current_context().get_parameter_source("size") is not ParameterSource.DEFAULT:
        raise click.UsageError("consistency distillation trains on the world stream at the teacher's size; leave out "
                               "--data and --size")
    try:
        settings = DistillSettings(intervals=intervals, guidance=guidance, segments=segments, solver=solver)
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    sample_steps = sample_steps or (segments if segments > 1 else 2)
    if check:
        _run(lambda: click.echo(check_run(consistency_trainer(out, _config(**options), teacher, settings, student),
                                          resume)))
        return
    _run(lambda: train_consistency(out, _config(**options), teacher, settings, export=export, resume=resume,
                                   sample_steps=sample_steps, student_folder=student))
    if export and int(os.environ.get("RANK", "0")) == 0:
        click.echo(f"wrote the few-step model folder {export}")


def _refuse_with_init(*names: str) -> None:
    """--init takes the architecture from its model folder: an architecture option beside it would be ignored."""
    context = click.get_current_context()
    given = [next(o for o in p.opts if o.startswith("--")) for p in context.command.params
             if p.name in names and context.get_parameter_source(p.name) is not ParameterSource.DEFAULT]
    if given:
        raise click.UsageError(f"--init takes the architecture, VAE included, from the model folder; "
                               f"leave out {', '.join(given)}")


def _run(job) -> None:
    try:
        job()
    except (ValueError, TrainingDiverged) as error:
        raise click.ClickException(str(error)) from None
