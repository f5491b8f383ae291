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


# ---- functional forms (issue 13): each class uses the forms users write ------------------

class ActivationsAfterConvs(nn.Module):
    """Every activation, each after its own conv (so --fuse=all can fuse each as a post-op),
    as modules and as functions; the branches are summed."""
    EXAMPLE_INPUT_SHAPE = (2, 3, 9, 7)

    def __init__(self):
        super().__init__()
        self.act_modules = nn.ModuleList([
            nn.ReLU6(inplace=True), nn.Hardtanh(-0.5, 0.75), nn.Sigmoid(), nn.SiLU(),
            nn.Hardswish(), nn.Hardsigmoid(), nn.GELU(), nn.GELU(approximate="tanh"), nn.Tanh(),
            nn.LeakyReLU(0.2), nn.ELU(alpha=0.7)])
        self.functions = [
            F.relu6, lambda x: F.hardtanh(x, -2.0, 1.0), lambda x: torch.clamp(x, 0.1, 0.9),
            lambda x: torch.clip(x, min=-0.3), lambda x: x.clamp(max=0.4), torch.sigmoid,
            F.silu, F.hardswish, F.hardsigmoid, lambda x: F.gelu(x, approximate="tanh"), F.gelu,
            torch.tanh, lambda x: F.leaky_relu(x, 0.05), lambda x: F.elu(x, 1.5)]
        n = len(self.act_modules) + len(self.functions)
        self.convs = nn.ModuleList([nn.Conv2d(3, 4, 3, padding=1) for _ in range(n)])
        self.bns = nn.ModuleList([nn.BatchNorm2d(4) for _ in range(n)])

    def forward(self, x):
        acts = list(self.act_modules) + self.functions
        y = None
        for act, conv, bn in zip(acts, self.convs, self.bns):
            z = act(bn(conv(x)))
            y = z if y is None else y + z
        return y


class ArithmeticBroadcast(nn.Module):
    """x * gate (a squeeze-excitation), numbers on either side, sub and div, in-place
    forms, a module tensor used in forward, a Linear on [N, C, H, W]."""
    EXAMPLE_INPUT_SHAPE = (2, 6, 8, 5)

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(6, 6, 3, padding=1)
        self.fc1 = nn.Conv2d(6, 3, 1)
        self.fc2 = nn.Conv2d(3, 6, 1)
        self.scale = nn.Parameter(torch.rand(6, 1, 1) + 0.5)
        self.head = nn.Linear(5, 4)

    def forward(self, x):
        y = self.conv(x)
        gate = torch.sigmoid(self.fc2(F.relu(self.fc1(y.mean((2, 3), keepdim=True)))))
        y = y * gate                      # [N, 6, 8, 5] * [N, 6, 1, 1]
        y = y * 0.5 + 3                   # numbers become parameters of shape []
        y = (3 - y) / 6
        y = torch.sub(y, x) - torch.div(x, 2.5)
        y += x                            # in place; nothing reads the old y
        y = self.scale * y.mul(torch.tanh(x))
        y = y.div_(2.0)
        return self.head(y)               # a Linear on [N, 6, 8, 5]


class CatSplit(nn.Module):
    """torch.cat of three tensors on dim 1 and of two on the last dim; chunk, split,
    narrow and slices, each piece used."""
    EXAMPLE_INPUT_SHAPE = (2, 4, 6, 10)

    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(4, 3, 1)
        self.b = nn.Conv2d(4, 5, 3, padding=1)
        self.c = nn.Conv2d(4, 4, 1)
        self.out = nn.Conv2d(12, 6, 1)

    def forward(self, x):
        y = torch.cat([self.a(x), F.relu(self.b(x)), self.c(x)], dim=1)   # 12 channels
        p, q, r = torch.chunk(y, 3, dim=1)
        s, t = y.split([5, 7], dim=1)
        u = y.narrow(1, 2, 6)
        v = y[:, 6:, ..., 1:-1]
        w = torch.cat((p * q + r, s[:, :4] - t[:, 3:], u[:, :4]), 1)      # 12 channels
        z = self.out(w)
        return torch.cat([z, v[:, :, :, :8]], dim=-1)                       # [N, 6, 6, 18]


class ChannelShuffle(nn.Module):
    """ShuffleNet's channel shuffle, written with unpacked sizes: reshape to 5-D,
    transpose, contiguous, reshape back; then a channel split by halves."""
    EXAMPLE_INPUT_SHAPE = (2, 3, 7, 6)

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.branch = nn.Conv2d(4, 4, 3, padding=1, groups=4)

    def forward(self, x):
        x = F.relu(self.bn(self.conv(x)))
        n, c, h, w = x.size()
        x = x.view(n, 2, c // 2, h, w).transpose(1, 2).contiguous().view(n, -1, h, w)
        a, b = x.chunk(2, dim=1)
        return torch.cat((a, self.branch(b)), dim=1).permute(0, 2, 3, 1).reshape(n, h * w, c)


class PoolsAndMeans(nn.Module):
    """F.max_pool2d, F.avg_pool2d with ceil_mode and count_include_pad (including a last
    window past the padded input), adaptive average pooling to any size, to its own size
    and to 1x1, and means over dims."""
    EXAMPLE_INPUT_SHAPE = (2, 3, 10, 11)

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.same = nn.AdaptiveAvgPool2d((10, 11))
        self.fc = nn.Linear(4 + 4 * 6 * 6 + 4 * 3 * 2 + 4 + 4 + 4 * 5, 7)

    def forward(self, x):
        x = self.same(self.conv(x))                                       # a no-op
        a = F.avg_pool2d(x, 3, 2, ceil_mode=True, count_include_pad=True)  # last window hangs
        b = F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False)
        c = F.max_pool2d(x, kernel_size=3, stride=2, padding=1, ceil_mode=True)
        d = F.adaptive_avg_pool2d(x, (3, 2))
        e = F.adaptive_avg_pool2d(x, 1)
        f = x.mean((2, 3))
        g = torch.mean(x, dim=-1, keepdim=True)                           # [N, 4, 10, 1]
        parts = [a.mean(dim=(2, 3)) + b.mean(dim=[2, 3]), torch.flatten(b, 1), d.flatten(1),
                 e.flatten(1), f, torch.flatten(c[:, :, :5, :1] + g[:, :, 3:8], 1)]
        return self.fc(torch.cat(parts, dim=1))


class LayerNormBlock(nn.Module):
    """A ConvNeXt block written by hand: depthwise conv, permute to NHWC, nn.LayerNorm,
    Linear on [N, H, W, C], GELU, Linear, permute back, a layer scale (a module tensor in
    forward), residual; then F.layer_norm over the last two dims with module tensors,
    transpose, flatten, dropout and a head."""
    EXAMPLE_INPUT_SHAPE = (2, 8, 5, 6)

    def __init__(self):
        super().__init__()
        self.dw = nn.Conv2d(8, 8, 7, padding=3, groups=8)
        self.norm = nn.LayerNorm(8, eps=1e-6)
        self.up = nn.Linear(8, 32)
        self.act = nn.GELU()
        self.down = nn.Linear(32, 8)
        self.layer_scale = nn.Parameter(torch.rand(8, 1, 1) + 0.5)
        self.ln_weight = nn.Parameter(torch.rand(5, 6) + 0.5)
        self.ln_bias = nn.Parameter(torch.rand(5, 6) - 0.5)
        self.drop = nn.Dropout(0.2)
        self.head = nn.Linear(8 * 6 * 5, 3)

    def forward(self, x):
        y = self.dw(x).permute(0, 2, 3, 1)
        y = self.down(self.act(self.up(self.norm(y))))
        x = x + self.layer_scale * y.permute(0, 3, 1, 2)
        x = F.layer_norm(x, (5, 6), self.ln_weight, self.ln_bias)
        x = F.dropout(x.transpose(2, 3), 0.3, training=self.training)
        return self.head(self.drop(torch.flatten(x, 1)))
