"""conv2d_unfold (notebook 01's solution) against F.conv2d on a mid-size input, side by side.

Prints the median time of each and their ratio. Timings, not a test.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).parent))
from common import median_time  # noqa: E402

from autograder.solutions import solution_namespace  # noqa: E402


def main() -> None:
    torch.manual_seed(0)
    nb = solution_namespace("01_conv_arithmetic")
    x, w, b = torch.randn(8, 32, 56, 56), torch.randn(64, 32, 3, 3), torch.randn(64)
    torch.testing.assert_close(nb.conv2d_unfold(x, w, b, padding=1), F.conv2d(x, w, b, padding=1),
                               rtol=1e-4, atol=1e-4)
    rows = []
    for _ in range(3):  # interleave, so both see the same machine state
        rows.append((median_time(lambda: nb.conv2d_unfold(x, w, b, padding=1), 5),
                     median_time(lambda: F.conv2d(x, w, b, padding=1), 5)))
    ours = sorted(r[0] for r in rows)[1]
    ref = sorted(r[1] for r in rows)[1]
    print(f"conv2d_unfold vs F.conv2d on x{tuple(x.shape)} w{tuple(w.shape)} padding 1, "
          f"{torch.get_num_threads()} threads")
    print(f"  conv2d_unfold {ours * 1e3:8.1f} ms")
    print(f"  F.conv2d      {ref * 1e3:8.1f} ms")
    print(f"  ratio         {ours / ref:8.2f}x  (unfold / F.conv2d)")


if __name__ == "__main__":
    main()
