"""A small CNN for 8×8 (digits) and 28×28 (Fashion-MNIST) inputs: CPU-friendly, seconds per epoch."""

from __future__ import annotations

from torch import Tensor, nn


def _conv(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.LeakyReLU(0.1)]


class SmallCNN(nn.Module):
    def __init__(self, num_classes: int, in_channels: int = 1, width: int = 32):
        super().__init__()
        self.features = nn.Sequential(
            *_conv(in_channels, width),
            *_conv(width, width),
            nn.MaxPool2d(2),  # 8×8 → 4×4, 28×28 → 14×14
            *_conv(width, 2 * width),
            *_conv(2 * width, 2 * width),
            nn.AdaptiveAvgPool2d(1),
        )
        self.fc = nn.Linear(2 * width, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.features(x).flatten(1))


def cnn_small(num_classes: int, in_channels: int = 1) -> SmallCNN:
    return SmallCNN(num_classes, in_channels)
