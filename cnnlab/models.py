"""Networks shared by several notebooks.

``SeedMNISTNet`` is the small MNIST network from the course's source material (conv 1->10 k5,
max-pool 2, conv 10->20 k5, max-pool 2, fc 320->50, fc 50->10) with its two bugs fixed: the
flatten keeps the batch dimension, and a ReLU separates the two fully connected layers.
Notebook 07 asks students to build it themselves; notebooks 02 and 03 measure it.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


class SeedMNISTNet(nn.Module):
    """Input (N, 1, 28, 28) -> logits (N, 10). 21,840 parameters; 480,500 MACs per image."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 10, kernel_size=5)
        self.pool1 = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
        self.pool2 = nn.MaxPool2d(2, 2)
        self.fc1 = nn.Linear(320, 50)
        self.fc2 = nn.Linear(50, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool1(F.relu(self.conv1(x)))
        x = self.pool2(F.relu(self.conv2(x)))
        x = torch.flatten(x, start_dim=1)  # (N, 320); the seed's .view(320) drops the batch
        x = F.relu(self.fc1(x))  # the seed has no nonlinearity here
        return self.fc2(x)


def seed_feature_stack() -> nn.Sequential:
    """The convolutional part of ``SeedMNISTNet`` as a Sequential (for receptive fields)."""
    return nn.Sequential(
        nn.Conv2d(1, 10, 5), nn.ReLU(), nn.MaxPool2d(2, 2),
        nn.Conv2d(10, 20, 5), nn.ReLU(), nn.MaxPool2d(2, 2),
    )
