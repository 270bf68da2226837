"""Networks, registered by name: ``build_net("wrn_28_2", num_classes=10, in_channels=3)``."""

from torch import nn

from ssl_core.nets import cnn, wrn  # noqa: F401 — importing registers the nets
from ssl_core.registry import NETS


def build_net(name: str, num_classes: int, in_channels: int) -> nn.Module:
    return NETS.get(name)(num_classes=num_classes, in_channels=in_channels)
