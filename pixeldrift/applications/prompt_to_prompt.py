"""Prompt-to-prompt: an edit that keeps where each word of the source caption was drawn.

Hertz et al. 2023 ("Prompt-to-Prompt Image Editing with Cross-Attention Control", sec. 3.2)
generate the source and the edited image side by side from the same noise; in the early steps
the edited branch's cross-attention weights M*_t are replaced by the source branch's M_t, mapped
through the alignment of the two captions' tokens:

    Edit(M_t, M*_t, t) = M_t A   for t > tau,  M*_t otherwise      (their eq. for a word swap;
                                                                    A the (L_src, L_target) alignment)

so each image position reads the new words' values with the old words' weights: "a cyan cross
left of a pink square" -> "a black cross ..." puts black where cyan was attended, not wherever the
model's own binding would put it. Used with inversion (Mokady et al. 2023 built null-text inversion
for this), the source branch is the inverted image's path, path[i] at sigmas[i], so it is not
sampled again. For a shorter early share of the steps the self-attention weights are the
source's too (their code's `self_replace_steps`), which keeps the shapes' outlines and sizes.

The alignment here: the two captions' common token prefix and suffix map one to one; the changed
span of the target shares the changed span of the source, the source's weight there split evenly,
so every position's attention still sums to one. Padding attends to nothing in either.
Attention re-weighting (their sec. 3.2, "fader control") multiplies the edited words' mapped
weights by a factor c, so the new words weigh more (c > 1) where the old ones were attended.
"""

from __future__ import annotations

import torch

from pixeldrift.sampling.guidance import _concat_conditions


def common_ends(source_ids: list[int], target_ids: list[int]) -> tuple[int, int]:
    """(prefix, suffix): how many tokens the two captions share at their start and, after that, at their end."""
    shortest = min(len(source_ids), len(target_ids))
    prefix = 0
    while prefix < shortest and source_ids[prefix] == target_ids[prefix]:
        prefix += 1
    suffix = 0
    while suffix < shortest - prefix and source_ids[-1 - suffix] == target_ids[-1 - suffix]:
        suffix += 1
    return prefix, suffix


def changed_tokens(source_ids: list[int], target_ids: list[int], length: int) -> torch.Tensor:
    """(length,) bool: the target's tokens that differ from the source's (the edited words)."""
    prefix, suffix = common_ends(source_ids, target_ids)
    changed = torch.zeros(length, dtype=torch.bool)
    changed[prefix:len(target_ids) - suffix] = True
    return changed


def token_alignment(source_ids: list[int], target_ids: list[int], length: int) -> torch.Tensor:
    """(length, length) A with target weights = source weights @ A, for two captions' real token ids."""
    if max(len(source_ids), len(target_ids)) > length:
        raise ValueError(f"token lists of {len(source_ids)} and {len(target_ids)} do not fit {length} positions")
    prefix, suffix = common_ends(source_ids, target_ids)
    alignment = torch.zeros(length, length)
    for i in range(prefix):
        alignment[i, i] = 1.0
    for j in range(1, suffix + 1):
        alignment[len(source_ids) - j, len(target_ids) - j] = 1.0
    changed_source = range(prefix, len(source_ids) - suffix)
    changed_target = range(prefix, len(target_ids) - suffix)
    for i in changed_source:
        for j in changed_target:
            alignment[i, j] = 1.0 / len(changed_target)
    return alignment


class PromptToPrompt:
    """A guided denoiser (x, sigma, cond, uncond) whose cross-attention follows the source path above `until_sigma`.

    `guided` wraps the network (sampling/guidance.CFGDenoiser); `layers` are the network's cross-attention
    modules (nets/attention.MultiHeadAttention, whose probe may return weights to use instead);
    `path[i]` the source latents at `sigmas[i]`; `alignment` (N, L, L) per sample.
    """

    def __init__(self, guided, layers, path: list[torch.Tensor], sigmas: torch.Tensor, source: dict,
                 source_uncond: dict, alignment: torch.Tensor, until_sigma: float,
                 self_layers=(), self_until_sigma: float = float("inf"), emphasis: torch.Tensor | None = None):
        if len(path) != len(sigmas):
            raise ValueError(f"the source path has {len(path)} latents for {len(sigmas)} levels")
        if not layers:
            raise ValueError("prompt-to-prompt needs a network with cross-attention layers")
        self.guided, self.layers, self.path, self.sigmas = guided, layers, path, sigmas.double().cpu()
        self.source, self.source_uncond, self.alignment, self.until_sigma = source, source_uncond, alignment, until_sigma
        self.self_layers, self.self_until_sigma = list(self_layers), self_until_sigma
        self.emphasis = emphasis  # (N, L) factors on the target's weights per token: the paper's re-weighting
        self._paired: tuple | None = None

    def __call__(self, x, sigma, cond, uncond):
        level = float(sigma[0])
        if level < self.until_sigma and level < self.self_until_sigma:
            return self.guided(x, sigma, cond, uncond)
        step = int((self.sigmas - level).abs().argmin())
        probes = {layer: self._swap for layer in self.layers if level >= self.until_sigma}
        probes.update({layer: self._copy for layer in self.self_layers if level >= self.self_until_sigma})
        paired_cond, paired_uncond = self._pair(cond, uncond)
        for layer, probe in probes.items():
            layer.probe = probe
        try:
            both = self.guided(torch.cat([self.path[step], x]), torch.cat([sigma, sigma]), paired_cond, paired_uncond)
        finally:
            for layer in probes:
                layer.probe = None
        return both[x.shape[0]:]

    def _pair(self, cond: dict, uncond: dict) -> tuple[dict, dict]:
        """(source; target) conditions, built once per pair of dicts the sampler passes."""
        if self._paired is None or self._paired[0] is not cond or self._paired[1] is not uncond:
            self._paired = (cond, uncond, _concat_conditions(self.source, cond),
                            _concat_conditions(self.source_uncond, uncond))
        return self._paired[2], self._paired[3]

    def _swap(self, weights: torch.Tensor) -> torch.Tensor:
        """Rows come in blocks of N: source, target, then under guidance source and target uncond.

        The captions' weights are mapped through the alignment; both branches' uncond is one text, so the
        target's uncond weights are the source's, unmapped (as the paper's code does for the empty prompt).
        """
        n, length = self.alignment.shape[0], self.alignment.shape[1]
        if weights.shape[-1] != length:
            raise ValueError(f"attention over {weights.shape[-1]} tokens; the alignment is for {length}")
        blocks = weights.reshape(-1, 2, n, *weights.shape[1:])  # (cond/uncond, source/target, N, heads, T, L)
        mapped = torch.einsum("nhtl,nlm->nhtm", blocks[0, 0], self.alignment.to(weights))
        if self.emphasis is not None:
            mapped = mapped * self.emphasis.to(weights)[:, None, None, :]
        target = torch.cat([mapped[None], blocks[1:, 0]])
        return torch.stack([blocks[:, 0], target], dim=1).reshape(weights.shape)

    def _copy(self, weights: torch.Tensor) -> torch.Tensor:
        """Self-attention: the target's weights are the source's, block by block."""
        blocks = weights.reshape(-1, 2, self.alignment.shape[0], *weights.shape[1:])
        return torch.stack([blocks[:, 0], blocks[:, 0]], dim=1).reshape(weights.shape)
