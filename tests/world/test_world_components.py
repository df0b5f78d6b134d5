"""Connected components agree with a plain flood fill on random masks."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from pixeldrift.world.components import connected_components


def _flood_fill_sizes(mask: np.ndarray) -> list[int]:
    seen = np.zeros_like(mask)
    sizes = []
    for start in zip(*np.nonzero(mask)):
        if seen[start]:
            continue
        stack, size = [start], 0
        seen[start] = True
        while stack:
            y, x = stack.pop()
            size += 1
            for dy in (-1, 0, 1):
                for dx in (-1, 0, 1):
                    ny, nx = y + dy, x + dx
                    if 0 <= ny < mask.shape[0] and 0 <= nx < mask.shape[1] and mask[ny, nx] and not seen[ny, nx]:
                        seen[ny, nx] = True
                        stack.append((ny, nx))
        sizes.append(size)
    return sorted(sizes, reverse=True)


@settings(max_examples=150, deadline=None)
@given(arrays(bool, st.tuples(st.integers(1, 14), st.integers(1, 14))))
def test_components_match_flood_fill(mask):
    components = connected_components(mask)
    assert [c.area for c in components] == _flood_fill_sizes(mask)
    covered = np.zeros_like(mask)
    for c in components:
        assert not covered[c.ys, c.xs].any()  # no pixel in two components
        covered[c.ys, c.xs] = True
    assert np.array_equal(covered, mask)


def test_diagonal_neighbours_join_and_min_area_filters():
    mask = np.zeros((5, 5), dtype=bool)
    mask[0, 0] = mask[1, 1] = mask[2, 2] = True  # one diagonal line
    mask[4, 4] = True  # a lone pixel
    components = connected_components(mask, min_area=2)
    assert len(components) == 1 and components[0].area == 3 and components[0].box == (0, 0, 2, 2)
