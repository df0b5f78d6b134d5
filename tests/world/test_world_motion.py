"""The world in motion: clips, their captions and parser, the split, the clip stream and the motion verifier.

Ground-truth clips must pass the motion verifier; corrupted ones (reversed, shuffled, a colour
changed, an object dropped) must fail with the named reason."""

from __future__ import annotations

import random
from dataclasses import replace

import numpy as np
import pytest

from pixeldrift.data.video_stream import VideoStream
from pixeldrift.world import PromptError, SpecError, render
from pixeldrift.world.layout import MARGIN
from pixeldrift.world.motion import (HELDOUT_MOTION_PROMPTS, TRAVEL, ClockRun, FillRun, MovingObjects, SignSpelling,
                                     clip_caption, frame_specs, is_clip_held_out, object_paths, parse_clip,
                                     render_clip, resolve_clip, sample_clip)
from pixeldrift.world.heldout import is_held_out
from pixeldrift.world.verify_motion import verify_clip

ONE_OF_EACH = ["two blue squares falling", "a red circle and a green star moving right quickly",
               "a clock going from 2:50 to 4:10", "three bars filling from empty to full",
               "two glasses emptying from full to quarter", "a sign spelling out HELLO"]


def test_long_captions_read_back_exactly_and_every_style_parses():
    rng = random.Random(3)
    for _ in range(200):
        clip = sample_clip(rng)
        assert parse_clip(clip_caption(clip, "long")) == clip
        for style in ("short", "plain", "bare"):
            read = parse_clip(clip_caption(clip, style))
            assert type(read) is type(clip) and resolve_clip(read, random.Random(0)).kind == clip.kind


def test_the_split_holds_out_every_benchmark_prompt_and_trains_on_none():
    rng = random.Random(1)
    for _category, prompt in HELDOUT_MOTION_PROMPTS:
        clip = parse_clip(prompt)
        assert all(is_clip_held_out(resolve_clip(clip, rng)) for _ in range(20)), prompt
    for _ in range(400):
        clip = sample_clip(rng, split="train")
        assert not is_clip_held_out(clip)
        assert not any(is_held_out(still) for frames in (8, 11, 16) for still in frame_specs(clip, frames))
    assert is_clip_held_out(sample_clip(rng, split="heldout"))


@pytest.mark.parametrize("prompt", ONE_OF_EACH)
def test_rendered_clips_pass_and_reversed_clips_fail(prompt):
    clip = parse_clip(prompt)
    frames = render_clip(clip, 8, 64, seed=11)
    assert frames.shape == (8, 64, 64, 3) and frames.dtype == np.uint8
    assert verify_clip(frames, clip).ok, verify_clip(frames, clip).explain()
    reversed_result = verify_clip(frames[::-1], clip)
    expected = "direction" if isinstance(clip, MovingObjects) else "order"
    assert reversed_result.passed(expected) is False
    assert reversed_result.consistent  # the same things, in the wrong order


@pytest.mark.parametrize("prompt", ["a red circle moving right", "a clock going from 1:00 to 2:00",
                                    "a sign spelling out TRAIN"])
def test_shuffled_frames_fail_the_order_check(prompt):
    clip = parse_clip(prompt)
    frames = render_clip(clip, 8, 64, seed=4)
    shuffled = frames[[0, 1, 6, 3, 4, 5, 2, 7]]
    result = verify_clip(shuffled, clip)
    assert result.passed("order") is False and "order" in result.failures


def test_a_colour_change_and_a_dropped_object_fail_with_their_names():
    clip = parse_clip("a red circle and a blue square moving left")
    frames = render_clip(clip, 8, 64, seed=9)
    paths = object_paths(clip, 8, 64, seed=9)
    recoloured = replace(clip.scene, groups=(replace(clip.scene.groups[0], colour="green"), clip.scene.groups[1]))
    changed = frames.copy()
    changed[3] = render(recoloured, 64, 9, placements=paths[3])
    result = verify_clip(changed, clip)
    assert result.passed("colour") is False and result.passed("count") is True and "frame 3" in result.failures
    dropped = frames.copy()
    dropped[5] = render(replace(clip.scene, groups=clip.scene.groups[:1]), 64, 9, placements=paths[5][:1])
    result = verify_clip(dropped, clip)
    assert result.passed("count") is False and "frame 5" in result.failures


def test_a_frozen_clip_fails_direction_and_speed():
    clip = parse_clip("a star moving up")
    frames = render_clip(clip, 8, 64, seed=2)
    result = verify_clip(np.stack([frames[0]] * 8), clip)
    assert result.passed("direction") is False and result.passed("speed") is False and result.consistent


def test_objects_travel_their_speed_and_stay_on_the_canvas_apart():
    for speed, travel in TRAVEL.items():
        clip = MovingObjects(parse_clip("three large squares falling").scene, "down", speed)
        paths = object_paths(clip, 16, 64, seed=5)
        assert paths[-1][0].cy - paths[0][0].cy == pytest.approx(travel)
        for spots in paths:
            assert all(MARGIN + p.half - 1e-9 <= c <= 1 - MARGIN - p.half + 1e-9 for p in spots for c in (p.cx, p.cy))
            assert all(p.clear_of(q) for i, p in enumerate(spots) for q in spots[i + 1:])


def test_a_spelled_sign_keeps_its_board_and_shows_letters_one_by_one():
    clip = SignSpelling("HELLO")
    assert [s.word for s in frame_specs(clip, 8)] == ["HE", "HE", "HEL", "HEL", "HELL", "HELL", "HELLO", "HELLO"]
    frames = render_clip(clip, 8, 64, seed=1)
    changed = np.any(frames != frames[-1], axis=(0, 3))
    whole = render(clip_spec := frame_specs(clip, 8)[-1], 64, 1)
    assert np.array_equal(frames[-1], whole) and clip_spec.word == "HELLO"
    assert changed.any() and not np.any(frames[:, ~changed] != frames[-1][~changed])


def test_clock_and_fill_frames_run_from_start_to_end():
    times = [(s.hour, s.minute) for s in frame_specs(ClockRun((11, 30), (1, 0)), 8)]
    assert times[0] == (11, 30) and times[-1] == (1, 0) and len(set(times)) == 8
    levels = [s.fills for s in frame_specs(FillRun(3, 4, 1, "bar"), 8)]
    assert levels[0] == (4, 4, 4) and levels[-1] == (1, 1, 1) and sorted(levels, reverse=True) == levels


@pytest.mark.parametrize("prompt, named", [
    ("a red circle spinning", "'spinning'"),
    ("a red circle moving sideways", "'moving sideways'"),
    ("a red circle", "does not move"),
    ("four circles falling", "4 moving objects"),
    ("a star above a circle moving left", "relation"),
    ("a clock going from 3:00 to 3:00", "start time"),
    ("a clock going from 3:07 to 4:00", "multiples of 5"),
    ("two glasses filling from full to empty", "'emptying'"),
    ("six glasses filling from empty to full", "2 to 5"),
    ("a sign spelling out HI", "too short"),
    ("a dancing robot", "accepted"),
])
def test_prompts_outside_the_grammar_are_refused_by_name(prompt, named):
    with pytest.raises(PromptError, match=named):
        parse_clip(prompt)


@pytest.mark.parametrize("frames", [7, 17, 0, True, 8.0])
def test_frame_counts_outside_eight_to_sixteen_are_refused(frames):
    with pytest.raises(SpecError, match="frames"):
        render_clip(parse_clip("a star falling"), frames)
    with pytest.raises(SpecError, match="frames"):
        verify_clip([np.zeros((64, 64, 3), np.uint8)] * (frames if isinstance(frames, int) else 3),
                    parse_clip("a star falling"))


def test_a_clip_that_is_not_a_sequence_is_refused_by_name():
    with pytest.raises(TypeError, match="not a sequence of frames"):
        verify_clip(5, parse_clip("a star falling"))


def test_the_clip_stream_batches_frames_in_range_and_repeats_itself():
    stream = VideoStream(seed=4, size=32, frames=8)
    batch, captions = stream.batch([0, 1, 2])
    assert batch.shape == (3, 8, 3, 32, 32) and len(captions) == 3
    assert -1.0 <= batch.min() and batch.max() <= 1.0
    again, captions_again = VideoStream(seed=4, size=32, frames=8).batch([0, 1, 2])
    assert (again == batch).all() and captions_again == captions
    frames, _text, clip, seed = stream.clip(7)
    assert np.array_equal(frames, render_clip(clip, 8, 32, seed)) and not is_clip_held_out(clip)
    with pytest.raises(SpecError, match="frames"):
        VideoStream(frames=20)
    with pytest.raises(SpecError, match="weights"):
        VideoStream(weights={"dancing": 1.0})


def test_word_soup_and_huge_prompts_raise_only_prompt_errors():
    rng = random.Random(0)
    words = ("a two star stars circle falling rising moving left right up down to the slowly quickly clock going "
             "from 3:00 4:05 glasses bars filling emptying empty full half quarter sign spelling out HELLO on white "
             "background , and ² \x00").split()
    prompts = [" ".join(rng.choice(words) for _ in range(rng.randint(0, 12))) for _ in range(1500)]
    prompts += ["a " * 50000 + "star falling", "two glasses filling from " + "to " * 30000 + "x",
                "a sign spelling out " + "A" * 100000, None, 7]
    for prompt in prompts:
        try:
            clip = parse_clip(prompt)
        except PromptError:
            continue
        resolved = resolve_clip(clip, rng)
        assert parse_clip(clip_caption(resolved, "long")) == resolved  # what it accepts, it can say again
