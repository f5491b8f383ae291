"""Small models for the parity tests, exported with
    export.py --module tests/parity/models.py:CLASS
Each class sets EXAMPLE_INPUT_SHAPE (the batch dim stays free in the export)."""

import torch
import torch.nn as nn
import torch.nn.functional as F


class WrappedBatchNorm(nn.Module):
    def __init__(self):
        super().__init__()
        self.mod = nn.BatchNorm2d(1)

    def forward(self, x):
        return self.mod(x)


class M(nn.Module):
    """The FX conv/BN fuser tutorial's model: BNs hidden in a Sequential and a wrapper."""
    EXAMPLE_INPUT_SHAPE = (5, 1, 1, 1)

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 1, 1)
        self.bn1 = nn.BatchNorm2d(1)
        self.conv2 = nn.Conv2d(1, 1, 1)
        self.nested = nn.Sequential(nn.BatchNorm2d(1), nn.Conv2d(1, 1, 1))
        self.wrapped = WrappedBatchNorm()

    def forward(self, x):
        x = self.conv1(x)
        x = self.bn1(x)
        x = self.conv2(x)
        x = self.nested(x)
        x = self.wrapped(x)
        return x


class ConvNoBiasBnNoAffine(nn.Module):
    """conv without bias -> BN without weight/bias: the fold adds a bias from nothing."""
    EXAMPLE_INPUT_SHAPE = (2, 3, 9, 11)

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(8, affine=False)
        self.relu = nn.ReLU()

    def forward(self, x):
        return self.relu(self.bn(self.conv(x)))


class GroupedConv(nn.Module):
    EXAMPLE_INPUT_SHAPE = (2, 8, 13, 10)

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(8, 12, 3, stride=2, padding=1, groups=4)
        self.bn = nn.BatchNorm2d(12)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        return self.relu(self.bn(self.conv(x)))


class DepthwiseConv(nn.Module):
    """Depthwise (one filter per channel, then a channel multiplier of 2) and pointwise."""
    EXAMPLE_INPUT_SHAPE = (2, 6, 12, 12)

    def __init__(self):
        super().__init__()
        self.dw = nn.Conv2d(6, 6, 3, padding=1, groups=6)
        self.dw_bn = nn.BatchNorm2d(6)
        self.dw2 = nn.Conv2d(6, 12, 3, padding=1, groups=6, bias=False)
        self.dw2_bn = nn.BatchNorm2d(12)
        self.pw = nn.Conv2d(12, 10, 1)
        self.pw_bn = nn.BatchNorm2d(10)

    def forward(self, x):
        x = F.relu(self.dw_bn(self.dw(x)))
        x = torch.relu(self.dw2_bn(self.dw2(x)))
        return self.pw_bn(self.pw(x))


class ConvTwoUsers(nn.Module):
    """The conv's output feeds the BN and the add: the BN must not be folded."""
    EXAMPLE_INPUT_SHAPE = (2, 4, 7, 7)

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)

    def forward(self, x):
        y = self.conv(x)
        return self.bn(y) + y


class LinearBn1d(nn.Module):
    """flatten via view(x.size(0), -1), then linear -> BatchNorm1d on [N, C]."""
    EXAMPLE_INPUT_SHAPE = (3, 3, 4, 4)

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(48, 20)
        self.bn = nn.BatchNorm1d(20)
        self.fc2 = nn.Linear(20, 7, bias=False)

    def forward(self, x):
        x = x.view(x.size(0), -1)
        x = self.bn(self.fc1(x)).relu()
        return self.fc2(x)


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(c, c, 3, padding="same", dilation=2, bias=False),
                                  nn.BatchNorm2d(c), nn.Dropout(0.3), nn.Identity())

    def forward(self, x):
        y = self.body(x)
        y += x
        return y.relu()


class MiscOps(nn.Module):
    """Everything else the exporter maps: 'same' padding, dilation, avg/max pooling with
    ceil_mode and count_include_pad, Identity/Dropout, `+=`, torch.add, x.flatten,
    view(-1, K), AdaptiveAvgPool2d(1)."""
    EXAMPLE_INPUT_SHAPE = (2, 3, 17, 23)

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 5, stride=2, padding=2)
        self.stem_bn = nn.BatchNorm2d(8)
        self.pool = nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True)
        self.block = Block(8)
        self.avg = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)
        self.side = nn.Conv2d(8, 8, 1, padding="valid")
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, 5)
        self.head = nn.Linear(8 * 3 * 4, 5)

    def forward(self, x):
        x = self.pool(F.relu(self.stem_bn(self.stem(x)), inplace=True))
        x = self.avg(self.block(x))
        x = torch.add(x, self.side(x))
        a = self.fc(self.gap(x).flatten(1))
        b = self.head(x.view(-1, 8 * 3 * 4))
        return a + b
