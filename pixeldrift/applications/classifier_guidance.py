"""Classifier guidance over a trained model: a noise-aware classifier's gradient steers its sampling.

Dhariwal & Nichol 2021 (section 4.1, eq. 10-12): D_guided = D + s sigma^2 grad_x log p(y | x_sigma, sigma),
the wrapper in sampling/classifier_guidance.py. Here the classifier is a folder
(nets/noisy_classifier.py, trained by train/noisy_classifier.py) that reads one model's latents,
and the labels are class names of its heads, e.g. {"colour": "red", "shape": "circle"}. It steers
the unconditional model (the empty prompt, which caption dropout trained) or sits on top of
classifier-free guidance of a prompt, through the pipeline's `steer` hook, at every sampler.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import torch

from pixeldrift.nets.noisy_classifier import NoisyClassifier, load_classifier, weights_sha256
from pixeldrift.sampling.classifier_guidance import ClassifierGuidedDenoiser, classifier_log_likelihood


def open_classifier(folder: str | Path, model) -> NoisyClassifier:
    """The classifier of a folder, refused with both names unless it reads this model's latent space."""
    net, data = load_classifier(folder)
    base = data.get("base") if isinstance(data.get("base"), dict) else {}
    vae = getattr(model, "vae", None)
    mine = weights_sha256(vae) if vae is not None else None
    if base.get("vae_sha256") != mine:
        raise ValueError(f"the classifier {folder} reads the latents of the model {base.get('name')!r} "
                         f"(VAE {str(base.get('vae_sha256'))[:12]}), not those of {model.name!r} "
                         f"(VAE {str(mine)[:12]}); train one for this model")
    return net.to(model.device)


def label_indices(classifier: NoisyClassifier, wanted: dict[str, str], n: int) -> dict[str, torch.Tensor]:
    """Class names per head -> (n,) class indices; unknown heads or classes are named with the accepted ones."""
    heads = classifier.cfg.heads
    if not wanted:
        raise ValueError(f"name at least one class to guide towards; heads: {', '.join(heads)}")
    labels = {}
    for head, name in wanted.items():
        if head not in heads:
            raise ValueError(f"the classifier has no head {head!r}; accepted: {', '.join(heads)}")
        if name not in heads[head]:
            raise ValueError(f"{head} {name!r} is not a class of the classifier; accepted: {', '.join(heads[head])}")
        labels[head] = torch.full((n,), heads[head].index(name), dtype=torch.long)
    return labels


def steering(classifier: NoisyClassifier, wanted: dict[str, str], scale: float, n: int,
             sigma_max: float | None = None):
    """The `steer` hook of LatentDiffusionPipeline.sample: classifier guidance on top of the (CFG) denoiser."""
    log_likelihood = classifier_log_likelihood(classifier, label_indices(classifier, wanted, n))

    def steer(guided, cond):
        return ClassifierGuidedDenoiser(guided, log_likelihood, scale, sigma_max)
    return steer


def wanted_from_prompt(classifier: NoisyClassifier, prompt: str) -> dict[str, str]:
    """The classes a prompt names, for the heads the classifier has: 'a red circle' -> colour red, shape circle.

    Only prompts of one object are read (the classifier knows lone objects); others get a ValueError.
    """
    from pixeldrift import world

    spec = world.parse_prompt(prompt)
    if not isinstance(spec, world.ObjectsScene) or spec.total_objects != 1:
        raise ValueError(f"{prompt!r} is not a prompt of one object; name the classes instead")
    group = spec.groups[0]
    found = {head: getattr(group, head) for head in classifier.cfg.heads if getattr(group, head, None) is not None}
    if not found:
        raise ValueError(f"{prompt!r} names none of the classifier's attributes ({', '.join(classifier.cfg.heads)})")
    return found


def generate_guided(model, request, classifier: NoisyClassifier, wanted: dict[str, str], scale: float,
                    classifier_name: str, unconditional: bool = False, callback=None) -> list:
    """`batch_size` labelled images of the request under classifier guidance (image i: seed + i).

    unconditional: sample the empty prompt (the model's unconditional side) with guidance 1, so only
    the classifier steers; the request's prompt then only names the classes, and the record says so.
    """
    from pixeldrift.pipeline.request import GeneratedImage

    r = request.validated(model.sampling_defaults, model.limits)
    if unconditional:
        r = replace(r, guidance=1.0)
    seeds = [r.seed + i for i in range(r.batch_size)]
    prompts = [""] * len(seeds) if unconditional else [r.prompt] * len(seeds)
    images = model.sample(prompts, seeds, r, callback, steer=steering(classifier, wanted, scale, len(seeds)))
    extra = {"Classifier": classifier_name, "Classifier classes": ", ".join(f"{h}={c}" for h, c in wanted.items()),
             "Classifier scale": f"{scale:g}"}
    results = []
    for seed, image in zip(seeds, images):
        record = model.record(r, seed, model.name)
        record = replace(record, prompt=prompts[0], extra={**record.extra, **extra})
        results.append(GeneratedImage(image, record))
    return results
