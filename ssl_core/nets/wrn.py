"""WideResNet-28-k as used by MixMatch / FixMatch / FlexMatch (BN momentum 0.001, LeakyReLU 0.1)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

BN_MOMENTUM = 0.001
LEAKY_SLOPE = 0.1


class BasicBlock(nn.Module):
    def __init__(
        self, in_planes: int, out_planes: int, stride: int, activate_before_residual: bool
    ):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_planes, momentum=BN_MOMENTUM)
        self.conv1 = nn.Conv2d(in_planes, out_planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_planes, momentum=BN_MOMENTUM)
        self.conv2 = nn.Conv2d(out_planes, out_planes, 3, 1, 1, bias=False)
        self.act = nn.LeakyReLU(LEAKY_SLOPE, inplace=True)
        self.equal = in_planes == out_planes
        self.shortcut = (
            None if self.equal else nn.Conv2d(in_planes, out_planes, 1, stride, bias=False)
        )
        self.activate_before_residual = activate_before_residual

    def forward(self, x: Tensor) -> Tensor:
        pre = self.act(self.bn1(x))
        if not self.equal and self.activate_before_residual:
            x = pre  # the first block's shortcut sees the activated input, as in the reference
        out = self.conv1(pre if (self.equal or self.activate_before_residual) else x)
        out = self.conv2(self.act(self.bn2(out)))
        return out + (x if self.equal else self.shortcut(x))


def _group(n: int, in_planes: int, out_planes: int, stride: int, abr: bool) -> nn.Sequential:
    return nn.Sequential(
        *(
            BasicBlock(
                in_planes if i == 0 else out_planes, out_planes, stride if i == 0 else 1, abr
            )
            for i in range(n)
        )
    )


class WideResNet(nn.Module):
    def __init__(self, num_classes: int, in_channels: int = 3, depth: int = 28, widen: int = 2):
        super().__init__()
        n = (depth - 4) // 6
        channels = [16, 16 * widen, 32 * widen, 64 * widen]
        self.conv1 = nn.Conv2d(in_channels, channels[0], 3, 1, 1, bias=False)
        self.block1 = _group(n, channels[0], channels[1], 1, True)
        self.block2 = _group(n, channels[1], channels[2], 2, False)
        self.block3 = _group(n, channels[2], channels[3], 2, False)
        self.bn = nn.BatchNorm2d(channels[3], momentum=BN_MOMENTUM)
        self.act = nn.LeakyReLU(LEAKY_SLOPE, inplace=True)
        self.fc = nn.Linear(channels[3], num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="leaky_relu")
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.data.fill_(1)
                m.bias.data.zero_()
            elif isinstance(m, nn.Linear):
                nn.init.xavier_normal_(m.weight)
                m.bias.data.zero_()

    def forward(self, x: Tensor) -> Tensor:
        out = self.block3(self.block2(self.block1(self.conv1(x))))
        out = self.act(self.bn(out))
        out = F.adaptive_avg_pool2d(out, 1).flatten(1)  # (N, 64·k)
        return self.fc(out)


def wrn_28_2(num_classes: int, in_channels: int = 3) -> WideResNet:
    return WideResNet(num_classes, in_channels, 28, 2)


def wrn_28_8(num_classes: int, in_channels: int = 3) -> WideResNet:
    return WideResNet(num_classes, in_channels, 28, 8)
