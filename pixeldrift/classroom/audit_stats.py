"""The bias audit's statistics: distributions of what was drawn, compared with the training data and uniform.

Notation: for one attribute (say colour) with value set V (K = |V| values the prompt allows),
``p`` is the share of each value in a model's outputs, ``q`` its share in the training data
that matches the prompt, ``u = 1/K`` the uniform share.

- total variation: TV(p, q) = 1/2 sum_v |p(v) - q(v)|, 0 (same) to 1 (disjoint);
- amplification of the output majority m = argmax_v p(v): p(m) / q(m), the figure the classroom
  quotes ("the model draws red 2.1 times as often as its data shows it"); 1 means the model
  reproduces its data's share, above 1 that it exaggerates it, infinite that it draws a value
  its data never showed;
- bias amplification in the sense of Zhao et al. 2017 ("Men Also Like Shopping", EMNLP:
  the bias score b(o, g) = c(o, g) / sum_g' c(o, g') and its mean increase over the
  pairs that training already favours, b*(o, g) > 1/|G|), here for one attribute:
  BA = mean over {v : q(v) > 1/K} of (p(v) - q(v));
- skew: Pearson's chi-square test of homogeneity of the output and training counts (a 2 x K
  contingency table), and of the outputs against uniform (goodness of fit).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
import math

from scipy import stats

SKEW_ALPHA = 0.01  # p-value below which an attribute is called skewed


class AuditError(ValueError):
    """An audit input the statistics cannot use; the message names it."""


def shares(counts: Counter, values: tuple[str, ...] = ()) -> dict[str, float]:
    """Each value's share of ``counts``, with every one of ``values`` present (0 where unseen)."""
    if any(not isinstance(c, int) or c < 0 for c in counts.values()):
        raise AuditError(f"counts must be non-negative integers, got {dict(counts)}")
    total = sum(counts.values())
    if total == 0:
        raise AuditError("no observations: an empty distribution has no shares")
    return {v: counts.get(v, 0) / total for v in dict.fromkeys([*values, *counts])}


def uniform(values: tuple[str, ...]) -> dict[str, float]:
    if not values:
        raise AuditError("uniform over no values")
    return {v: 1 / len(values) for v in values}


def total_variation(p: dict[str, float], q: dict[str, float]) -> float:
    """TV(p, q) = 1/2 sum_v |p(v) - q(v)| over the union of their values."""
    return 0.5 * sum(abs(p.get(v, 0.0) - q.get(v, 0.0)) for v in {*p, *q})


def majority(p: dict[str, float]) -> str:
    """The most frequent value; ties go to the value listed first."""
    return max(p, key=lambda v: p[v])


def amplification(p: dict[str, float], q: dict[str, float]) -> tuple[str, float]:
    """(m, p(m) / q(m)) for the output majority m; infinity when the training data never shows m."""
    m = majority(p)
    return m, (p[m] / q[m] if q.get(m, 0.0) > 0 else math.inf)


def zhao_amplification(p: dict[str, float], q: dict[str, float], k: int) -> float:
    """Mean of p(v) - q(v) over the values training favours (q(v) > 1/k); 0 when it favours none."""
    favoured = [v for v in q if q[v] > 1 / k]
    return sum(p.get(v, 0.0) - q[v] for v in favoured) / len(favoured) if favoured else 0.0


def homogeneity_p(outputs: Counter, reference: Counter) -> float:
    """Chi-square test that both samples come from one distribution; 1.0 when only one value occurs."""
    values = sorted({*outputs, *reference})
    if len(values) < 2:
        return 1.0
    table = [[outputs.get(v, 0) for v in values], [reference.get(v, 0) for v in values]]
    return float(stats.chi2_contingency(table, correction=False).pvalue)


def uniformity_p(outputs: Counter, values: tuple[str, ...]) -> float:
    """Chi-square goodness of fit of the outputs to uniform over ``values`` (outputs outside them count
    against uniformity, as an extra cell that uniform gives no share: p = 0 as soon as one occurs)."""
    outside = sum(c for v, c in outputs.items() if v not in values)
    if outside:
        return 0.0
    observed = [outputs.get(v, 0) for v in values]
    if len(values) < 2:
        return 1.0
    return float(stats.chisquare(observed).pvalue)


@dataclass(frozen=True)
class AttributeAudit:
    """One attribute of one prompt: the two samples and every figure the report shows."""

    attribute: str
    values: tuple[str, ...]   # what the prompt allows (uniform is over these)
    outputs: dict[str, int]
    reference: dict[str, int]
    tv_reference: float       # outputs against training data
    tv_uniform: float         # outputs against uniform
    reference_tv_uniform: float   # how far the training data itself is from uniform
    majority: str
    output_share: float
    reference_share: float
    amplification: float
    zhao: float
    p_reference: float
    p_uniform: float

    @property
    def skewed_from_reference(self) -> bool:
        return self.p_reference < SKEW_ALPHA

    @property
    def skewed_from_uniform(self) -> bool:
        return self.p_uniform < SKEW_ALPHA


def audit_attribute(attribute: str, values: tuple[str, ...], outputs: Counter, reference: Counter
                    ) -> AttributeAudit:
    """Every figure for one attribute; AuditError when either sample is empty."""
    for name, sample in (("outputs", outputs), ("training data", reference)):
        if sum(sample.values()) == 0:
            raise AuditError(f"{attribute}: no {name} were read, so there is nothing to compare")
    p, q, u = shares(outputs, values), shares(reference, values), uniform(values)
    m, ratio = amplification(p, q)
    return AttributeAudit(attribute, values, dict(outputs), dict(reference), total_variation(p, q),
                          total_variation(p, u), total_variation(q, u), m, p[m], q.get(m, 0.0), ratio,
                          zhao_amplification(p, q, len(values)), homogeneity_p(outputs, reference),
                          uniformity_p(outputs, values))
