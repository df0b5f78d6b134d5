"""The motion verifier: every frame against its still, then what must hold across frames.

``verify_clip(frames, clip)`` reads each frame with the still verifier (world/verify.py) against
:func:`~pixeldrift.world.motion.frame_specs`, then adds checks with fixed names, so a failure says
what went wrong:

===========  ===============================================================================
name         holds when
===========  ===========================================================================
readable     every frame reads as a scene of the clip's kind (a world background, a clock, ...)
count        (objects) the same number of objects in every frame
identity     (objects) the same shapes and sizes in every frame
colour       (objects) the same colours in every frame
vessels      (filling) the same number and kind of vessels in every frame
direction    (objects) the centroid's path from first to last frame lies within 45 degrees of the
             stated direction
speed        (objects) it travels the stated share of the image, within SPEED_TOLERANCE of it
order        no step goes back: objects never step against the direction by more than
             STEP_TOLERANCE; clock times never run backwards; fills never turn; letters never vanish
===========  ===========================================================================

The consistency checks are readable, count, identity, colour and vessels; the motion checks are
direction, speed and order (for clocks, fills and signs the order check is their direction). The
speed words are 1.5x apart (0.2, 0.3, 0.45), so a tolerance of 20% tells each from its neighbours.
The objects' checks follow the centroid of all objects, which translate together.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from pixeldrift.world.motion import (DIRECTIONS, ClockRun, Clip, FillRun, MovingObjects, SignSpelling, check_frames,
                                     frame_specs)
from pixeldrift.world.spec import FILL_NAMES
from pixeldrift.world.verify import Check, VerifyResult, verify

SPEED_TOLERANCE = 0.2  # relative error of the travelled distance
STEP_TOLERANCE = 0.01  # a backward step of at most this share of the image is read noise (0.64 px at 64)
CONSISTENCY = ("readable", "count", "identity", "colour", "vessels")
MOTION = ("direction", "speed", "order")


@dataclass(frozen=True)
class ClipResult:
    """Each frame's still result and the clip's checks across frames."""

    frames: tuple[VerifyResult, ...]
    checks: tuple[Check, ...]

    @property
    def frame_accuracy(self) -> float:
        return sum(r.ok for r in self.frames) / len(self.frames)

    @property
    def consistent(self) -> bool:
        return all(c.ok for c in self.checks if c.attribute in CONSISTENCY)

    def passed(self, name: str) -> bool | None:
        """Whether the check ``name`` holds; None when the clip has no such check."""
        found = [c.ok for c in self.checks if c.attribute == name]
        return all(found) if found else None

    @property
    def failures(self) -> list[str]:
        """The names of the failed checks, and "frame N" for each frame that does not show its still."""
        return [c.attribute for c in self.checks if not c.ok] + [f"frame {i}" for i, r in enumerate(self.frames)
                                                                if not r.ok]

    @property
    def ok(self) -> bool:
        return not self.failures

    def explain(self) -> str:
        lines = [f"{c.attribute}: expected {c.expected}, found {c.observed}" for c in self.checks if not c.ok]
        lines += [f"frame {i}: {r.explain()}" for i, r in enumerate(self.frames) if not r.ok]
        return "\n".join(lines) if lines else "correct"


def verify_clip(frames: np.ndarray | list, clip: Clip) -> ClipResult:
    """Compare ``frames`` (F images, each what :func:`~pixeldrift.world.verify` accepts) with ``clip``."""
    if not hasattr(frames, "__len__"):
        raise TypeError(f"frames: a {type(frames).__name__} is not a sequence of frames; accepted: (F, H, W, 3) "
                        "or a list of images")
    count = len(frames)
    check_frames(count)
    results = tuple(verify(frame, still) for frame, still in zip(frames, frame_specs(clip, count)))
    unread = [i for i, r in enumerate(results) if r.problems]
    checks = [Check("readable", "every frame", f"frames {unread} unreadable" if unread else "every frame",
                    not unread)]
    if not unread:
        checks += _KIND_CHECKS[type(clip)](clip, results)
    return ClipResult(results, tuple(checks))


def _constant(name: str, values: list) -> Check:
    """``values`` (one per frame) all equal: observed names the frames that differ from the most common."""
    common, _ = Counter(values).most_common(1)[0]
    odd = [i for i, v in enumerate(values) if v != common]
    return Check(name, "the same in every frame", f"frames {odd} differ" if odd else "the same in every frame",
                 not odd)


def _objects_checks(clip: MovingObjects, results: tuple[VerifyResult, ...]) -> list[Check]:
    seen = [r.seen["objects"] for r in results]
    checks = [_constant("count", [len(s) for s in seen]),
              _constant("identity", [tuple(sorted((o["shape"], o["size"]) for o in s)) for s in seen]),
              _constant("colour", [tuple(sorted(o["colour"] for o in s)) for s in seen])]
    if any(not s for s in seen):
        return checks + [Check(n, clip.direction, "no objects in some frames", False) for n in MOTION]
    centres = np.array([[np.mean([o["cx"] for o in s]), np.mean([o["cy"] for o in s])] for s in seen])
    unit = np.array(DIRECTIONS[clip.direction], dtype=float)
    along = (centres - centres[0]) @ unit
    across = abs((centres[-1] - centres[0]) @ unit[::-1])
    checks.append(Check("direction", clip.direction, _heading(centres[-1] - centres[0]), along[-1] > across))
    low, high = clip.travel * (1 - SPEED_TOLERANCE), clip.travel * (1 + SPEED_TOLERANCE)
    checks.append(Check("speed", f"{clip.travel:.2f} to the {clip.direction} (from {low:.2f} to {high:.2f})",
                        f"{along[-1]:.2f}", low <= along[-1] <= high))
    back = [i for i in range(1, len(along)) if along[i] < along[i - 1] - STEP_TOLERANCE]
    checks.append(Check("order", "no step back", f"steps back into frames {back}" if back else "no step back",
                        not back))
    return checks


def _heading(step: np.ndarray) -> str:
    """The direction of DIRECTIONS nearest to ``step`` (image coordinates, y down), or "no move"."""
    if np.abs(step).max() < 1e-6:
        return "no move"
    return max(DIRECTIONS, key=lambda d: float(np.dot(step, DIRECTIONS[d])))


def _monotone(name: str, values: list, rising: bool, describe=str) -> Check:
    turns = [i for i in range(1, len(values)) if (values[i] < values[i - 1]) == rising and values[i] != values[i - 1]]
    shown = ", ".join(describe(v) for v in values)
    return Check(name, "rising" if rising else "falling", f"{shown}: turns at frames {turns}" if turns else shown,
                 not turns)


def _clock_checks(clip: ClockRun, results: tuple[VerifyResult, ...]) -> list[Check]:
    start = (clip.start[0] % 12) * 60 + clip.start[1]
    advance = [((r.seen["hour"] % 12) * 60 + r.seen["minute"] - start) % 720 for r in results]
    return [_monotone("order", advance, True, lambda m: f"+{m} min")]


def _fill_checks(clip: FillRun, results: tuple[VerifyResult, ...]) -> list[Check]:
    rows = [(r.seen["vessels"], r.seen["fills"]) for r in results]
    checks = [_constant("vessels", [vessels for vessels, _ in rows])]
    levels = [fills for _, fills in rows]
    turning = [_monotone("order", [f[i] for f in levels], clip.end > clip.start)
               for i in range(min(map(len, levels)))]
    failed = [i for i, c in enumerate(turning) if not c.ok]
    shown = "; ".join(", ".join(FILL_NAMES[f[i]] for f in levels) for i in failed)
    checks.append(Check("order", clip.verb, f"vessels {failed} turn: {shown}" if failed else clip.verb, not failed))
    return checks


def _sign_checks(clip: SignSpelling, results: tuple[VerifyResult, ...]) -> list[Check]:
    words = [r.seen["word"] for r in results]
    lost = [i for i in range(1, len(words)) if not words[i].startswith(words[i - 1])]
    return [Check("order", "letters only appear", f"{', '.join(words)}: letters lost at frames {lost}" if lost
                  else ", ".join(words), not lost)]


_KIND_CHECKS = {MovingObjects: _objects_checks, ClockRun: _clock_checks, FillRun: _fill_checks,
                SignSpelling: _sign_checks}
