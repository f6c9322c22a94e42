"""The study's architectures: CONV-6, CIFAR ResNet-20/32 (option-B shortcuts), Wide-ResNet-28-2,
CIFAR MobileNetV2, an MLP, and torchvision's ImageNet ResNet-18, ResNet-50 and MobileNetV2 (their own
constructors, ``weights=None``). Input channels, size and classes come from the dataset.

All models are initialised Kaiming-normal (fan-in, ReLU gain) with zero biases. Prunable layers are
every ``nn.Conv2d`` and ``nn.Linear`` (first, last and shortcut layers included).
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .registry import Registry

MODELS: Registry[Callable[..., nn.Module]] = Registry("model")

InputShape = tuple[int, int, int]


def build_model(name: str, input_shape: Sequence[int], num_classes: int, **options) -> nn.Module:
    """Build model ``name`` for inputs of shape (C, H, W) and ``num_classes`` outputs, initialised."""
    factory = MODELS.get(name)
    c, h, w = (int(v) for v in input_shape)
    model = factory((c, h, w), int(num_classes), **options)
    init_weights(model)
    return model


def init_weights(model: nn.Module) -> None:
    """Kaiming-normal weights for Conv2d/Linear, zero biases, BatchNorm at identity."""
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(module.weight, mode="fan_in", nonlinearity="relu")
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)


def prunable_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """(name, module) of every Conv2d and Linear, in registration order."""
    return [(n, m) for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def _conv_bn(c_in: int, c_out: int, bias: bool = True) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=bias), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]


class Conv6(nn.Module):
    """CONV-6 (Frankle & Carbin 2019 / main paper): 2x(64), pool, 2x(128), pool, 2x(256), pool, 256-256-classes.
    ``width`` multiplies every hidden width (channels and the two hidden Linear layers, rounded, at least 1):
    1 is the paper's network, 0.25 gives 16/32/64 channels and 64 hidden units."""

    def __init__(self, input_shape: InputShape, num_classes: int, width: float = 1.0) -> None:
        super().__init__()
        c, h, w = input_shape
        if h < 8 or w < 8:
            raise ValueError(f"conv6 needs inputs of at least 8x8 (three 2x2 poolings), got {h}x{w}")
        if isinstance(width, bool) or not isinstance(width, (int, float)) or not width > 0:
            raise ValueError(f"conv6 option width must be a number > 0 (a multiplier of the widths), got {width!r}")
        c1, c2, c3, hidden = (max(1, int(round(v * width))) for v in (64, 128, 256, 256))
        self.features = nn.Sequential(
            *_conv_bn(c, c1), *_conv_bn(c1, c1), nn.MaxPool2d(2),
            *_conv_bn(c1, c2), *_conv_bn(c2, c2), nn.MaxPool2d(2),
            *_conv_bn(c2, c3), *_conv_bn(c3, c3), nn.MaxPool2d(2),
        )
        flat = c3 * (h // 8) * (w // 8)
        self.classifier = nn.Sequential(
            nn.Linear(flat, hidden), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True),
            nn.Linear(hidden, hidden), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.features(x), 1))


class BasicBlock(nn.Module):
    """CIFAR ResNet basic block with an option-B (1x1 conv + BN) shortcut when the shape changes."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = nn.Sequential()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class CifarResNet(nn.Module):
    """ResNet-(6n+2) for CIFAR (He et al. 2016), widths 16/32/64, global average pooling, linear head."""

    def __init__(self, input_shape: InputShape, num_classes: int, depth: int) -> None:
        super().__init__()
        if (depth - 2) % 6:
            raise ValueError(f"CIFAR ResNet depth must be 6n+2, got {depth}")
        n = (depth - 2) // 6
        c = input_shape[0]
        self.conv1 = nn.Conv2d(c, 16, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        layers, c_in = [], 16
        for i, width in enumerate((16, 32, 64)):
            blocks = []
            for j in range(n):
                stride = 2 if (i > 0 and j == 0) else 1
                blocks.append(BasicBlock(c_in, width, stride))
                c_in = width
            layers.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = layers
        self.linear = nn.Linear(64, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer3(self.layer2(self.layer1(out)))
        out = F.avg_pool2d(out, out.shape[-2:])
        return self.linear(torch.flatten(out, 1))


class WideBlock(nn.Module):
    """Pre-activation wide basic block (Zagoruyko & Komodakis 2016) with a 1x1 conv shortcut when shapes change."""

    def __init__(self, c_in: int, c_out: int, stride: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, stride=1, padding=1, bias=False)
        self.dropout = nn.Dropout(dropout)
        self.equal_in_out = c_in == c_out and stride == 1
        self.conv_shortcut = None if self.equal_in_out else nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pre = F.relu(self.bn1(x))
        out = self.conv1(pre)
        out = self.conv2(self.dropout(F.relu(self.bn2(out))))
        shortcut = x if self.conv_shortcut is None else self.conv_shortcut(pre)
        return out + shortcut


class WideResNet(nn.Module):
    """Wide-ResNet-depth-k for CIFAR: widths 16, 16k, 32k, 64k; (depth-4)/6 blocks per stage."""

    def __init__(self, input_shape: InputShape, num_classes: int, depth: int = 28, widen: int = 2,
                 dropout: float = 0.0) -> None:
        super().__init__()
        if (depth - 4) % 6:
            raise ValueError(f"Wide-ResNet depth must be 6n+4, got {depth}")
        n = (depth - 4) // 6
        widths = [16, 16 * widen, 32 * widen, 64 * widen]
        self.conv1 = nn.Conv2d(input_shape[0], widths[0], 3, padding=1, bias=False)
        stages, c_in = [], widths[0]
        for i, width in enumerate(widths[1:]):
            blocks = []
            for j in range(n):
                blocks.append(WideBlock(c_in, width, 2 if (i > 0 and j == 0) else 1, dropout))
                c_in = width
            stages.append(nn.Sequential(*blocks))
        self.block1, self.block2, self.block3 = stages
        self.bn = nn.BatchNorm2d(c_in)
        self.fc = nn.Linear(c_in, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.block3(self.block2(self.block1(self.conv1(x))))
        out = F.relu(self.bn(out))
        out = F.avg_pool2d(out, out.shape[-2:])
        return self.fc(torch.flatten(out, 1))


class InvertedResidual(nn.Module):
    """MobileNetV2 block: 1x1 expand, 3x3 depthwise (stride), 1x1 project; CIFAR variant shortcut
    (identity when shapes match, 1x1 conv + BN when only the channels change, none when strided)."""

    def __init__(self, c_in: int, c_out: int, expansion: int, stride: int) -> None:
        super().__init__()
        hidden = expansion * c_in
        self.stride = stride
        self.conv1 = nn.Conv2d(c_in, hidden, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(hidden)
        self.conv2 = nn.Conv2d(hidden, hidden, 3, stride=stride, padding=1, groups=hidden, bias=False)
        self.bn2 = nn.BatchNorm2d(hidden)
        self.conv3 = nn.Conv2d(hidden, c_out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(c_out)
        self.shortcut = None
        if stride == 1:
            self.shortcut = nn.Sequential()
            if c_in != c_out:
                self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return out if self.shortcut is None else out + self.shortcut(x)


class MobileNetV2(nn.Module):
    """MobileNetV2 (Sandler et al. 2018), CIFAR variant: stride-1 stem and stride-1 second stage."""

    CONFIG = [(1, 16, 1, 1), (6, 24, 2, 1), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]

    def __init__(self, input_shape: InputShape, num_classes: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(input_shape[0], 32, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(32)
        blocks, c_in = [], 32
        for expansion, c_out, count, stride in self.CONFIG:
            for j in range(count):
                blocks.append(InvertedResidual(c_in, c_out, expansion, stride if j == 0 else 1))
                c_in = c_out
        self.layers = nn.Sequential(*blocks)
        self.conv2 = nn.Conv2d(320, 1280, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(1280)
        self.linear = nn.Linear(1280, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(self.layers(out))))
        out = F.adaptive_avg_pool2d(out, 1)
        return self.linear(torch.flatten(out, 1))


class MLP(nn.Module):
    """Fully connected network: flatten, hidden Linear+ReLU layers (optional BatchNorm1d), linear head."""

    def __init__(self, input_shape: InputShape, num_classes: int, hidden: Sequence[int] = (300, 100),
                 batch_norm: bool = False) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        width = int(input_shape[0] * input_shape[1] * input_shape[2])
        for h in hidden:
            layers.append(nn.Linear(width, int(h)))
            if batch_norm:
                layers.append(nn.BatchNorm1d(int(h)))
            layers.append(nn.ReLU(inplace=True))
            width = int(h)
        layers.append(nn.Linear(width, num_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


MODELS.register("conv6")(lambda shape, classes, width=1.0: Conv6(shape, classes, width))
MODELS.register("resnet20")(lambda shape, classes: CifarResNet(shape, classes, depth=20))
MODELS.register("resnet32")(lambda shape, classes: CifarResNet(shape, classes, depth=32))
MODELS.register("wrn28_2")(lambda shape, classes, dropout=0.0: WideResNet(shape, classes, 28, 2, dropout))
MODELS.register("mobilenetv2")(lambda shape, classes: MobileNetV2(shape, classes))
MODELS.register("mlp")(lambda shape, classes, hidden=(300, 100), batch_norm=False: MLP(shape, classes, hidden, batch_norm))


def _torchvision(name: str, stem: Callable[[nn.Module], tuple[nn.Module, str]]):
    """Factory of torchvision's ``name`` (no pretrained weights) with ``num_classes`` outputs. For inputs of
    other than 3 channels the first convolution is rebuilt for them (same kernel, stride, padding)."""

    def factory(shape: InputShape, classes: int) -> nn.Module:
        import torchvision

        model = getattr(torchvision.models, name)(weights=None, num_classes=classes)
        if shape[0] != 3:
            parent, attr = stem(model)
            old = getattr(parent, attr)
            setattr(parent, attr, nn.Conv2d(shape[0], old.out_channels, old.kernel_size, old.stride, old.padding,
                                            bias=old.bias is not None))
        return model

    return factory


MODELS.register("resnet18")(_torchvision("resnet18", lambda m: (m, "conv1")))
MODELS.register("resnet50")(_torchvision("resnet50", lambda m: (m, "conv1")))
MODELS.register("mobilenet_v2")(_torchvision("mobilenet_v2", lambda m: (m.features[0], "0")))
