import numpy as np
import pytest

from PIL import Image

from pixeldrift.pipeline.forward_process import forward_frames, training_example
from pixeldrift.pipeline.timeline import chosen_steps


def picture() -> Image.Image:
    y, x = np.mgrid[0:64, 0:64]
    return Image.fromarray(np.stack([x * 4, y * 4, (x + y) * 2], -1).astype(np.uint8))


def test_removing_the_target_noise_gives_back_the_image():
    x_t, _noise, recovered = training_example(picture(), t=700)
    assert np.abs(np.asarray(recovered).astype(int) - np.asarray(picture()).astype(int)).max() <= 1
    assert np.abs(np.asarray(x_t).astype(int) - np.asarray(picture()).astype(int)).mean() > 30


def test_signal_fades_as_alpha_bar_says():
    steps, frames = forward_frames(picture(), frames=5, schedule="linear")
    image = np.asarray(picture(), float).ravel()

    def correlation(frame):
        return np.corrcoef(np.asarray(frame, float).ravel(), image)[0, 1]

    values = [correlation(f) for f in frames]
    assert steps == [0, 250, 500, 749, 999]
    assert values[0] > 0.99 and values[-1] < 0.05 and all(a > b for a, b in zip(values, values[1:]))


def test_bad_forward_settings_are_refused():
    with pytest.raises(ValueError, match="the training step must be from 0 to 999"):
        training_example(picture(), t=1000)
    with pytest.raises(ValueError, match="unknown beta schedule"):
        forward_frames(picture(), schedule="wavy")


@pytest.mark.parametrize("steps, frames, expected", [(20, 8, [1, 4, 6, 9, 12, 15, 17, 20]), (3, 8, [1, 2, 3]),
                                                     (10, 1, [10])])
def test_timeline_steps_are_spread_and_end_with_the_last(steps, frames, expected):
    assert chosen_steps(steps, frames) == expected
