"""`pixeldrift invert`: an image to noise by DDIM inversion and back, with its prompt or another."""

from __future__ import annotations

import time
from pathlib import Path

import click
import torch

from pixeldrift.applications.inversion import METHODS, InversionSettings, check_image_size, psnr, regenerate
from pixeldrift.applications.inversion import invert_images
from pixeldrift.cli.generate import _check_output
from pixeldrift.cli.generation_options import check_prompt_lengths, open_image, reported
from pixeldrift.pipeline.pixels import pixels_to_images
from pixeldrift.pipeline.request import GeneratedImage
from pixeldrift.pretrained import open_model
from pixeldrift.provenance.record import GenerationRecord


@click.command()
@click.argument("image", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--prompt", required=True, help="What IMAGE shows: the prompt it is inverted with.")
@click.option("--to-prompt", help="Regenerate with this prompt instead (an edit); the reconstruction PSNR is "
                                  "still printed.")
@click.option("--steps", type=click.IntRange(1, 1000), default=50, show_default=True,
              help="DDIM steps, for inversion and for regeneration alike.")
@click.option("--guidance", "--cfg", type=click.FloatRange(0, 50), default=1.0, show_default=True,
              help="Classifier-free guidance scale of the regeneration (and of plain inversion).")
@click.option("--method", type=click.Choice(METHODS), default="plain", show_default=True,
              help="plain: invert under the same guidance; negative-prompt (Miyake et al. 2023) and null-text "
                   "(Mokady et al. 2023): invert at guidance 1 and fix the guided regeneration.")
@click.option("--strength", type=click.FloatRange(0, 1), default=1.0, show_default=True,
              help="Share of the schedule inverted: 1 goes all the way to noise.")
@click.option("--refine", type=click.IntRange(0, 20), default=0, show_default=True,
              help="Fixed-point iterations per inversion step (exact inverse of each sampling step).")
@click.option("--null-text-iterations", type=click.IntRange(1, 50), default=10, show_default=True,
              help="With --method null-text: Adam iterations per step.")
@click.option("--negative", "negative_prompt", default="", help="Negative prompt (plain and null-text's start).")
@click.option("--diffedit", is_flag=True,
              help="With --to-prompt: redraw only where the two prompts' predictions differ (DiffEdit, Couairon et "
                   "al. 2023); every other latent stays the image's own.")
@click.option("--prompt-to-prompt", "p2p_share", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="With --to-prompt: share of the steps whose cross-attention is the source's (prompt-to-prompt, "
                   "Hertz et al. 2023), so new words land where the old ones were drawn; 0 is off.")
@click.option("--self-attention", "self_share", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="With --prompt-to-prompt: share of the steps whose self-attention is the source's too.")
@click.option("--emphasis", type=click.FloatRange(0, 10), default=1.0, show_default=True,
              help="With --prompt-to-prompt: weight on the changed words' attention (the paper's re-weighting).")
@click.option("--model", "model_path", type=click.Path(path_type=Path),
              help="A model folder or checkpoint; the embedded default when omitted.")
@click.option("--device", default="cpu", show_default=True)
@click.option("--no-watermark", is_flag=True, help="Skip the invisible watermark (recorded in the metadata).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The .png to write: the reconstruction, or the edit with --to-prompt.")
def invert(image, prompt, to_prompt, steps, guidance, method, strength, refine, null_text_iterations,
           negative_prompt, diffedit, p2p_share, self_share, emphasis, model_path, device, no_watermark, output):
    """Invert IMAGE to noise with DDIM run backwards, regenerate it, print the reconstruction PSNR.

    IMAGE must be a size the model makes (64x64 for the default model); it is not resized.
    Under guidance above 1, plain inversion reconstructs badly (a known failure);
    --method negative-prompt or null-text repairs it.

    \b
    Examples:
      pixeldrift invert scene.png --prompt "a red circle left of a blue square" -o back.png
      pixeldrift invert scene.png --prompt "a red circle left of a blue square" \\
          --to-prompt "a green circle left of a blue square" --guidance 4 --method negative-prompt -o edit.png
      pixeldrift invert scene.png --prompt "a red circle left of a blue square" \\
          --to-prompt "a green circle left of a blue square" --guidance 2 --method negative-prompt \\
          --strength 0.6 --diffedit --prompt-to-prompt 0.8 -o edit.png
    """
    if to_prompt is None and (diffedit or p2p_share > 0):
        raise click.UsageError("--diffedit and --prompt-to-prompt edit an image: give --to-prompt")
    _check_output(output, None, 1)
    check_prompt_lengths(("--prompt", prompt), ("--to-prompt", to_prompt or ""), ("--negative", negative_prompt))
    settings = InversionSettings(steps=steps, guidance=guidance, method=method, strength=strength, refine=refine,
                                 negative_prompt=negative_prompt, null_text_iterations=null_text_iterations,
                                 diffedit=diffedit, prompt_to_prompt=p2p_share, self_attention_share=self_share,
                                 emphasis=emphasis)
    reported(settings.check)
    picture = open_image(image)
    started = time.perf_counter()
    model = reported(lambda: open_model(model_path, device=device))
    reported(lambda: check_image_size(model, picture.size))
    inversion = reported(lambda: invert_images(model, [picture], [prompt], settings))
    back = pixels_to_images(regenerate(model, inversion, None, settings))[0]
    result = back if to_prompt is None else pixels_to_images(reported(
        lambda: regenerate(model, inversion, [to_prompt], settings)))[0]
    score = psnr(picture, back)
    record = GenerationRecord(
        prompt=to_prompt or prompt, negative_prompt=prompt if method == "negative-prompt" else negative_prompt,
        steps=steps, sampler="ddim", cfg_scale=guidance, seed=0, width=picture.width, height=picture.height,
        model=model.name, extra={"Inversion": method, "Inverted prompt": prompt, "Inversion strength": str(strength),
                                 "Reconstruction PSNR": f"{score:.2f}", **_edit_controls(settings, to_prompt)})
    GeneratedImage(result, record).save(output, watermark=not no_watermark)
    click.echo(f"wrote {output} ({'edit' if to_prompt else 'reconstruction'})")
    ceiling, seconds = _vae_psnr(model, inversion, picture), time.perf_counter() - started
    click.echo(f"reconstruction PSNR {score:.2f} dB ({method}, {steps} steps, guidance {guidance:g}; "
               f"the VAE alone: {ceiling:.2f} dB) in {seconds:.1f} s")


def _edit_controls(settings: InversionSettings, to_prompt: str | None) -> dict[str, str]:
    """The edit's attention and mask controls, for the image's parameters (nothing for a reconstruction)."""
    if to_prompt is None:
        return {}
    controls = {"DiffEdit": "True"} if settings.diffedit else {}
    if settings.prompt_to_prompt > 0:
        controls.update({"Prompt-to-prompt": f"{settings.prompt_to_prompt:g}",
                         "P2P self-attention": f"{settings.self_attention_share:g}",
                         "P2P emphasis": f"{settings.emphasis:g}"})
    return controls


def _vae_psnr(model, inversion, picture) -> float:
    """The ceiling any inversion can reach: the image through the VAE alone."""
    with torch.no_grad():
        return psnr(picture, model.to_images(inversion.path[-1])[0])
