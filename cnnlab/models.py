"""Networks that several notebooks measure.

``SeedMNISTNet`` is the small MNIST network of post [5] (conv 1->10 k5, max-pool 2, conv 10->20 k5,
max-pool 2, fc 320->50, fc 50->10), kept for measuring sizes, receptive fields, parameters and
MACs. The flatten keeps the batch dimension (the post's ``.view(320)`` does not), but the post's
second bug stays: there is no nonlinearity between the two fully connected layers, so this is
not the network notebook 07 asks for. Parameters (21,840) and MACs (480,500 per image) do not
depend on that ReLU.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


class SeedMNISTNet(nn.Module):
    """Input (N, 1, 28, 28) -> scores (N, 10). 21,840 parameters; 480,500 MACs per image. For measuring only."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 10, 5)
        self.pool1 = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(10, 20, 5)
        self.pool2 = nn.MaxPool2d(2, 2)
        self.fc1 = nn.Linear(320, 50)
        self.fc2 = nn.Linear(50, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool1(F.relu(self.conv1(x)))
        x = self.pool2(F.relu(self.conv2(x)))
        return self.fc2(self.fc1(torch.flatten(x, start_dim=1)))  # post [5]: no ReLU between fc1 and fc2


def seed_feature_stack() -> nn.Sequential:
    """The convolutional part of ``SeedMNISTNet`` as a Sequential (for receptive fields)."""
    return nn.Sequential(
        nn.Conv2d(1, 10, 5), nn.ReLU(), nn.MaxPool2d(2, 2),
        nn.Conv2d(10, 20, 5), nn.ReLU(), nn.MaxPool2d(2, 2),
    )
