"""A real photo to run layers on: matplotlib's bundled portrait of Grace Hopper."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch


@lru_cache(maxsize=4)
def _photo_array(size: int) -> np.ndarray:
    from matplotlib import cbook
    from PIL import Image

    with Image.open(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)) as im:
        im = im.convert("RGB")
        side = min(im.size)
        left, top = (im.width - side) // 2, (im.height - side) // 2
        im = im.crop((left, top, left + side, top + side)).resize((size, size), Image.BILINEAR)
        return np.asarray(im, dtype=np.float32) / 255.0


def sample_photo(size: int = 256, gray: bool = False) -> torch.Tensor:
    """The photo as a float tensor in [0, 1]: shape (3, size, size), or (1, size, size) if ``gray``."""
    x = torch.from_numpy(_photo_array(size).copy()).permute(2, 0, 1).contiguous()
    if gray:
        x = (0.299 * x[0] + 0.587 * x[1] + 0.114 * x[2]).unsqueeze(0)
    return x
