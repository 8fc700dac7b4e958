"""Pristine references to the PyTorch functions that checks rely on.

They are captured when :mod:`cnnlab` is first imported, which every notebook does in
its locked first cell, before any student code runs. Checks compute expected values
and compare results through these references, so a submission that rebinds
``torch.allclose`` or ``F.conv2d`` cannot change what "correct" means.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
import torch.testing

# Comparison helpers that a hostile submission might replace.
COMPARATORS: dict[str, object] = {
    "torch.allclose": torch.allclose,
    "torch.isclose": torch.isclose,
    "torch.equal": torch.equal,
    "torch.testing.assert_close": torch.testing.assert_close,
    "torch.Tensor.__eq__": torch.Tensor.__eq__,
    "torch.Tensor.allclose": torch.Tensor.allclose,
    "torch.Tensor.equal": torch.Tensor.equal,
}

# Reference operations used to compute expected values.
allclose = torch.allclose
isclose = torch.isclose
equal = torch.equal
isfinite = torch.isfinite
as_tensor = torch.as_tensor
conv1d = F.conv1d
conv2d = F.conv2d
conv3d = F.conv3d
conv_transpose2d = F.conv_transpose2d
unfold = F.unfold
max_pool1d = F.max_pool1d
max_pool2d = F.max_pool2d
avg_pool1d = F.avg_pool1d
avg_pool2d = F.avg_pool2d
max_unpool2d = F.max_unpool2d
interpolate = F.interpolate
linear = F.linear
batch_norm = F.batch_norm
dropout = F.dropout
relu = F.relu
leaky_relu = F.leaky_relu
elu = F.elu
sigmoid = torch.sigmoid
tanh = torch.tanh
log_softmax = F.log_softmax
cross_entropy = F.cross_entropy
nll_loss = F.nll_loss
binary_cross_entropy = F.binary_cross_entropy
binary_cross_entropy_with_logits = F.binary_cross_entropy_with_logits
l1_loss = F.l1_loss
mse_loss = F.mse_loss
smooth_l1_loss = F.smooth_l1_loss
pairwise_distance = F.pairwise_distance


def current_comparators() -> dict[str, object]:
    """Look the comparison helpers up again, as the notebook would see them now."""
    return {
        "torch.allclose": torch.allclose,
        "torch.isclose": torch.isclose,
        "torch.equal": torch.equal,
        "torch.testing.assert_close": torch.testing.assert_close,
        "torch.Tensor.__eq__": torch.Tensor.__eq__,
        "torch.Tensor.allclose": torch.Tensor.allclose,
        "torch.Tensor.equal": torch.Tensor.equal,
    }
