"""Networks by name (ssl_core.contract.catalog): ``build_net("wrn_28_2", num_classes=10, in_channels=3)``."""

from torch import nn

from ssl_core.registry import net_builder


def build_net(name: str, num_classes: int, in_channels: int) -> nn.Module:
    return net_builder(name)(num_classes=num_classes, in_channels=in_channels)
