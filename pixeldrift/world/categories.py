"""Benchmark categories: which skill a spec tests, derived from its structure alone.

The GenEval categories (Ghosh et al. 2023, "GenEval: An Object-Focused Framework
for Evaluating Text-to-Image Alignment") plus the world's own three.
"""

from pixeldrift.world.spec import ClockScene, ObjectsScene, QuantityScene, Scene, TextScene

CATEGORIES = ("single object", "two objects", "counting", "colours", "position", "colour attribution",
              "clock time", "quantity", "text")
OTHER = "other objects"  # object scenes outside the GenEval shapes, e.g. three groups


def benchmark_category(spec: Scene) -> str:
    """One of :data:`CATEGORIES`, or :data:`OTHER` for object scenes none of them describes."""
    if isinstance(spec, ClockScene):
        return "clock time"
    if isinstance(spec, QuantityScene):
        return "quantity"
    if isinstance(spec, TextScene):
        return "text"
    assert isinstance(spec, ObjectsScene)
    groups = spec.groups
    if spec.relation is not None:
        return "position"
    if len(groups) == 1:
        if groups[0].count > 1:
            return "counting"
        return "colours" if groups[0].colour else "single object"
    if len(groups) == 2 and all(g.count == 1 for g in groups):
        return "colour attribution" if all(g.colour for g in groups) else "two objects"
    return OTHER
