"""The landmark network (torch; training and export only): six points of one body from a
crop of the film, one heatmap per point, read out by soft-argmax (``morpho.landmarks``
runs the exported ONNX)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from morpho.atomic import atomic_write, write_text
from morpho.landmarks import SIDE

WIDTHS = (16, 24, 48, 96)


def _conv(i: int, o: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(i, o, 3, stride, 1, bias=False), nn.BatchNorm2d(o),
                         nn.ReLU(True))


class LandmarkNet(nn.Module):
    """SIDE x SIDE crop (N, 1, H, W) -> six heatmaps at half size (a small U-Net) -> the six
    points (N, 6, 2; u, v in crop units 0-1) by soft-argmax, the heatmaps, and each
    heatmap's spread (N, 6; its standard deviation, crop units)."""

    def __init__(self) -> None:
        super().__init__()
        self.down = nn.ModuleList(nn.Sequential(_conv(i, o, 2), _conv(o, o))
                                  for i, o in zip((1, *WIDTHS[:-1]), WIDTHS, strict=True))
        self.up = nn.ModuleList(
            nn.Sequential(_conv(hi + lo, lo), _conv(lo, lo))
            for hi, lo in zip(WIDTHS[:0:-1], WIDTHS[-2::-1], strict=True))
        self.head = nn.Conv2d(WIDTHS[0], 6, 1)
        self.register_buffer("grid", (torch.arange(SIDE // 2) + 0.5) / (SIDE // 2))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The last decoder stage's features (N, WIDTHS[0], SIDE / 2, SIDE / 2)."""
        skips = []
        for block in self.down:
            x = block(x)
            skips.append(x)
        x = skips.pop()
        for block in self.up:
            x = nn.functional.interpolate(x, scale_factor=2.0, mode="bilinear")
            x = block(torch.cat([x, skips.pop()], 1))
        return x

    def read_out(self, logits: torch.Tensor
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Heatmap logits (N, 6, h, w) -> points, heatmaps and spreads (see the class)."""
        p = logits.flatten(2).softmax(-1).view_as(logits)
        pu, pv = p.sum(2), p.sum(3)
        uv = torch.stack([(pu * self.grid).sum(-1), (pv * self.grid).sum(-1)], -1)
        var = (pu * self.grid**2).sum(-1) + (pv * self.grid**2).sum(-1) - (uv**2).sum(-1)
        return uv, p, var.clamp_min(0).sqrt()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.read_out(self.head(self.features(x)))


class _Exported(nn.Module):
    def __init__(self, net: LandmarkNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        uv, _, spread = self.net(x)
        return uv, spread


def save_landmarks(net: LandmarkNet, out: str | Path, training: str, opset: int = 17) -> Path:
    """Write ``out`` (.onnx: input "crop" (N, 1, SIDE, SIDE), outputs "points" and "spread"),
    its .safetensors and its JSON (version: a hash of the weights; ``training``: how)."""
    out = Path(out).with_suffix(".onnx")
    out.parent.mkdir(parents=True, exist_ok=True)
    net = net.eval()
    weights = {k: v.contiguous() for k, v in net.state_dict().items()}
    atomic_write(out.with_suffix(".safetensors"), lambda tmp: save_file(weights, str(tmp)))
    axes = {0: "batch"}
    atomic_write(out, lambda tmp: torch.onnx.export(
        _Exported(net).eval(), (torch.zeros(1, 1, SIDE, SIDE),), str(tmp), input_names=["crop"],
        output_names=["points", "spread"], opset_version=opset, dynamo=False,
        dynamic_axes={"crop": axes, "points": axes, "spread": axes}))
    digest = hashlib.sha256(out.with_suffix(".safetensors").read_bytes()).hexdigest()[:12]
    config = {"format": "morpho-landmarks", "side": SIDE, "version": f"{out.stem}-{digest}",
              "training": training, "onnx_opset": opset}
    write_text(out.with_suffix(".json"), json.dumps(config, indent=1))
    return out


def load_landmarks(path: str | Path) -> LandmarkNet:
    """A ``LandmarkNet`` from ``<stem>.safetensors``, in eval mode."""
    net = LandmarkNet()
    net.load_state_dict(load_file(str(Path(path).with_suffix(".safetensors"))))
    return net.eval()
