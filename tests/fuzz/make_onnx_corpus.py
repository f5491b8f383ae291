#!/usr/bin/python3
"""Rebuilds the ONNX fuzz seed corpus in tests/fuzz/corpus/onnx/.

    /usr/bin/python3 tests/fuzz/make_onnx_corpus.py

Exports small models with torch.onnx.export (a few KB each, a free batch,
BN statistics randomised), at opsets 11, 13 and 17, with the BatchNorms
folded by the exporter and kept:
  small_cnn_*       conv/bn/relu/max pool/avg pool/Clip(min=0)/Dropout,
                    view(x.size(0), -1) (Shape -> Gather -> Unsqueeze ->
                    Concat -> Reshape), Gemm -> BatchNorm1d, flatten, MatMul
  residual_*        a ResNet basic block with a downsampling shortcut and a
                    global average pool
  external_data     residual_op13 with its first conv weight stored as external
                    data in weights.bin (the file the fuzz target provides:
                    1024 float32s), at offset 64
  unsupported_ops   Softmax, Pow, Round and a lone Erf (ops Kiln lacks): the
                    one-error report path
Seeds are deterministic for a given torch and onnx version.
"""
import io
import os

import onnx
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus", "onnx")


class SmallCnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, stride=2, padding=1)
        self.bn1 = nn.BatchNorm2d(4)
        self.pool = nn.MaxPool2d(2, ceil_mode=True)
        self.conv2 = nn.Conv2d(4, 4, 3, padding=1, groups=2, bias=False)
        self.bn2 = nn.BatchNorm2d(4)
        self.avg = nn.AvgPool2d(2, count_include_pad=False)
        self.drop = nn.Dropout(0.5)
        self.fc1 = nn.Linear(4, 6)
        self.bn3 = nn.BatchNorm1d(6)
        self.fc2 = nn.Linear(6, 3, bias=False)

    def forward(self, x):
        x = self.pool(torch.relu(self.bn1(self.conv1(x))))
        x = self.avg(torch.clamp(self.bn2(self.conv2(x)), min=0))
        x = self.drop(x.view(x.size(0), -1))
        return self.fc2(torch.relu(self.bn3(self.fc1(x))))


class Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(4)
        self.conv2 = nn.Conv2d(4, 4, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(4)
        self.down = nn.Sequential(nn.Conv2d(3, 4, 1, stride=2, bias=False), nn.BatchNorm2d(4))
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        y = torch.relu(self.bn2(self.conv2(y)) + self.down(x))
        return self.fc(torch.flatten(self.gap(y), 1))


class Unsupported(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 1)

    def forward(self, x):
        y = self.conv(x)
        return torch.cat([torch.softmax(y, 1), y.pow(3), torch.round(y), torch.erf(y)], 1)


def randomize(module, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.rand(p.shape, generator=g) - 0.5)
        for m in module.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.running_mean.copy_(torch.rand(m.num_features, generator=g) * 0.4 - 0.2)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
    return module.eval()


def export(module, shape, opset, keep_bn):
    f = io.BytesIO()
    torch.onnx.export(module, torch.zeros(shape), f, opset_version=opset,
                      training=torch.onnx.TrainingMode.PRESERVE if keep_bn else torch.onnx.TrainingMode.EVAL,
                      input_names=["x"], output_names=["y"], dynamic_axes={"x": {0: "N"}, "y": {0: "N"}})
    return onnx.load_from_string(f.getvalue())


def save(name, model):
    path = os.path.join(OUT, name + ".onnx")
    data = model.SerializeToString()
    with open(path, "wb") as f:
        f.write(data)
    print(f"{path}: {len(data)} bytes")


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    small, residual = randomize(SmallCnn(), 1), randomize(Residual(), 2)
    for opset, keep_bn in ((11, True), (13, False), (17, True)):
        suffix = f"op{opset}{'_bn' if keep_bn else ''}"
        save(f"small_cnn_{suffix}", export(small, (1, 3, 8, 8), opset, keep_bn))
        save(f"residual_{suffix}", export(residual, (1, 3, 8, 8), opset, keep_bn))

    m = export(residual, (1, 3, 8, 8), 13, False)
    weight = max(m.graph.initializer, key=lambda t: len(t.raw_data))
    length = len(weight.raw_data)
    weight.ClearField("raw_data")
    weight.data_location = onnx.TensorProto.EXTERNAL
    for key, value in (("location", "weights.bin"), ("offset", "64"), ("length", str(length))):
        entry = weight.external_data.add()
        entry.key, entry.value = key, value
    save("external_data", m)
    save("unsupported_ops", export(randomize(Unsupported(), 3), (1, 3, 4, 4), 13, False))


if __name__ == "__main__":
    main()
