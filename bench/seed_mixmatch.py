"""The seed tutorial's MixMatch code (../shared/seed/mixmatch_tutorial.txt), ported as written.

Only what a benchmark cannot use is left out: reading CIFAR-10 through torchvision (the datasets
are built from arrays instead, with the same __getitem__), and the tqdm bar and TensorBoard
writer calls in the loops (tensorboard is not installed here; leaving them out makes the seed
faster, so the ratios measured against it are conservative). Everything else keeps the seed's
structure: pre-normalised float32 arrays, numpy per-image transforms in the DataLoader
(num_workers=0), two label-guessing forwards, interleaved forwards, its loss, Adam, its
WeightEMA, and evaluation with batch size 1. Names follow the seed, not matchlab's conventions.
"""

# ruff: noqa: N801, N802, N803, N806 — the seed's names, kept so the port can be checked by eye

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import Dataset
from torchvision import transforms

SEED_MEAN, SEED_STD = (0.4914, 0.4822, 0.4465), (0.2471, 0.2345, 0.2616)  # the seed's values


def Normalize(x: np.ndarray, m: tuple = SEED_MEAN, std: tuple = SEED_STD) -> np.ndarray:
    x, m, std = [np.array(a, np.float32) for a in (x, m, std)]
    x -= m * 255
    x *= 1.0 / (255 * std)
    return x


def Transpose(x: np.ndarray, source: str = "NHWC", target: str = "NCHW") -> np.ndarray:
    return x.transpose([source.index(d) for d in target])


def pad(x: np.ndarray, border: int = 4) -> np.ndarray:
    return np.pad(x, [(0, 0), (border, border), (border, border)], mode="reflect")


class RandomPadandCrop:
    def __init__(self, output_size: int) -> None:
        self.output_size = (output_size, output_size)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = pad(x, 4)
        old_h, old_w = x.shape[1:]
        new_h, new_w = self.output_size
        top = np.random.randint(0, old_h - new_h)
        left = np.random.randint(0, old_w - new_w)
        return x[:, top : top + new_h, left : left + new_w]


class RandomFlip:
    def __call__(self, x: np.ndarray) -> np.ndarray:
        if np.random.rand() < 0.5:
            x = x[:, :, ::-1]
        return x.copy()


class GaussianNoise:
    def __call__(self, x: np.ndarray) -> np.ndarray:
        c, h, w = x.shape
        x += np.random.randn(c, h, w) * 0.15
        return x


class ToTensor:
    def __call__(self, x: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(x)


class Transform_Twice:
    def __init__(self, transform: Any) -> None:
        self.transform = transform

    def __call__(self, img: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        return self.transform(img), self.transform(img)


class Labeled_CIFAR10(Dataset):
    """The seed's dataset class, built from an (N, H, W, C) uint8 array instead of the files."""

    def __init__(self, data: np.ndarray, targets: np.ndarray, transform: Any = None) -> None:
        self.data = Transpose(Normalize(data))
        self.targets = np.array(targets)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        img, target = self.data[index], self.targets[index]
        if self.transform is not None:
            img = self.transform(img)
        return img, target


class Unlabeled_CIFAR10(Labeled_CIFAR10):
    def __init__(self, data: np.ndarray, targets: np.ndarray, transform: Any = None) -> None:
        super().__init__(data, targets, transform)
        self.targets = np.array([-1 for i in range(len(self.targets))])


def transform_train() -> transforms.Compose:
    return transforms.Compose([RandomPadandCrop(32), RandomFlip(), GaussianNoise(), ToTensor()])


class BasicBlock(nn.Module):
    def __init__(self, in_planes, out_planes, stride, dropRate=0.0, activate_before_residual=False):  # noqa: ANN001
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_planes, momentum=0.001)
        self.relu1 = nn.LeakyReLU(negative_slope=0.1, inplace=True)
        self.conv1 = nn.Conv2d(in_planes, out_planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_planes, momentum=0.001)
        self.relu2 = nn.LeakyReLU(negative_slope=0.1, inplace=True)
        self.conv2 = nn.Conv2d(out_planes, out_planes, 3, 1, 1, bias=False)
        self.droprate = dropRate
        self.equalInOut = in_planes == out_planes
        self.convShortcut = (
            (not self.equalInOut)
            and nn.Conv2d(in_planes, out_planes, 1, stride, 0, bias=False)
            or None
        )
        self.activate_before_residual = activate_before_residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.equalInOut and self.activate_before_residual:
            x = self.relu1(self.bn1(x))
        else:
            out = self.relu1(self.bn1(x))
        out = self.relu2(self.bn2(self.conv1(out if self.equalInOut else x)))
        if self.droprate > 0:
            out = F.dropout(out, p=self.droprate, training=self.training)
        out = self.conv2(out)
        return torch.add(x if self.equalInOut else self.convShortcut(x), out)


class NetworkBlock(nn.Module):
    def __init__(self, nb_layers, in_planes, out_planes, block, stride, dropRate=0.0, abr=False):  # noqa: ANN001
        super().__init__()
        self.layer = nn.Sequential(
            *[
                block(
                    i == 0 and in_planes or out_planes,
                    out_planes,
                    i == 0 and stride or 1,
                    dropRate,
                    abr,
                )
                for i in range(int(nb_layers))
            ]
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(x)


class WideResNet(nn.Module):
    def __init__(
        self, num_classes: int, depth: int = 28, widen_factor: int = 2, dropRate: float = 0.0
    ):
        super().__init__()
        nChannels = [16, 16 * widen_factor, 32 * widen_factor, 64 * widen_factor]
        n = (depth - 4) / 6
        self.conv1 = nn.Conv2d(3, nChannels[0], 3, 1, 1, bias=False)
        self.block1 = NetworkBlock(n, nChannels[0], nChannels[1], BasicBlock, 1, dropRate, True)
        self.block2 = NetworkBlock(n, nChannels[1], nChannels[2], BasicBlock, 2, dropRate)
        self.block3 = NetworkBlock(n, nChannels[2], nChannels[3], BasicBlock, 2, dropRate)
        self.bn1 = nn.BatchNorm2d(nChannels[3], momentum=0.001)
        self.relu = nn.LeakyReLU(negative_slope=0.1, inplace=True)
        self.fc = nn.Linear(nChannels[3], num_classes)
        self.nChannels = nChannels[3]
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                k = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
                m.weight.data.normal_(0, math.sqrt(2.0 / k))
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.data.fill_(1)
                m.bias.data.zero_()
            elif isinstance(m, nn.Linear):
                nn.init.xavier_normal_(m.weight.data)
                m.bias.data.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.block3(self.block2(self.block1(self.conv1(x))))
        out = self.relu(self.bn1(out))
        out = F.avg_pool2d(out, 8)
        return self.fc(out.view(-1, self.nChannels))


def linear_rampup(current: float, rampup_length: int) -> float:
    if rampup_length == 0:
        return 1.0
    return float(np.clip(current / rampup_length, 0.0, 1.0))


class Loss_Semisupervised:
    def __call__(self, args, outputs_x, target_x, outputs_u, targets_u, epoch):  # noqa: ANN001, ANN204
        probs_u = torch.softmax(outputs_u, dim=1)
        loss_x = -torch.mean(torch.sum(F.log_softmax(outputs_x, dim=1) * target_x, dim=1))
        loss_u = torch.mean((probs_u - targets_u) ** 2)
        return loss_x, loss_u, args.lambda_u * linear_rampup(epoch, args.epochs)


class WeightEMA:
    def __init__(self, model: nn.Module, ema_model: nn.Module, lr: float, alpha: float = 0.999):
        self.model, self.ema_model, self.alpha = model, ema_model, alpha
        self.params = list(self.model.state_dict().items())
        self.ema_params = list(self.ema_model.state_dict().items())
        self.wd = 0.02 * lr
        for param, ema_param in zip(self.params, self.ema_params, strict=True):
            param[1].data.copy_(ema_param[1].data)

    def step(self) -> None:
        inverse_alpha = 1.0 - self.alpha
        for param, ema_param in zip(self.params, self.ema_params, strict=True):
            if ema_param[1].dtype == torch.float32:
                ema_param[1].mul_(self.alpha)
                ema_param[1].add_(param[1] * inverse_alpha)
                param[1].mul_(1 - self.wd)


def interleave_offsets(batch_size: int, nu: int) -> list[int]:
    groups = [batch_size // (nu + 1)] * (nu + 1)
    for x in range(batch_size - sum(groups)):
        groups[-x - 1] += 1
    offsets = [0]
    for g in groups:
        offsets.append(offsets[-1] + g)
    return offsets


def interleave(xy: list[torch.Tensor], batch_size: int) -> list[torch.Tensor]:
    nu = len(xy) - 1
    offsets = interleave_offsets(batch_size, nu)
    xy = [[v[offsets[p] : offsets[p + 1]] for p in range(nu + 1)] for v in xy]
    for i in range(1, nu + 1):
        xy[0][i], xy[i][i] = xy[i][i], xy[0][i]
    return [torch.cat(v, dim=0) for v in xy]


def accuracy(output: torch.Tensor, target: torch.Tensor, topk: tuple = (1,)) -> list:
    maxk = max(topk)
    batch_size = target.size(0)
    _, pred = output.topk(maxk, 1, True, True)
    pred = pred.t()
    correct = pred.eq(target.view(1, -1).expand_as(pred))
    res = []
    for k in topk:
        if k == 1:
            correct_k = correct[:k].view(-1).float().sum(0)
        if k > 1:
            correct_k = correct[:k].float().sum(0).sum(0)
        acc = correct_k.mul_(100.0 / batch_size)
        res.append(acc.detach().cpu().numpy())
    return res
