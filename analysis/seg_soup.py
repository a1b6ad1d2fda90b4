"""Average the weights of fine-tunes that share one start ("model soup", Wortsman et al. 2022).

    python analysis/seg_soup.py runs/a/best.safetensors runs/b/best.safetensors --out runs/soup/best

Runs fine-tuned from the same weights with other seeds usually sit in one basin: the mean of
their weights scores like an ensemble of them at the cost of one network. Score the soup on the
validation part against its ingredients (``morpho evaluate``) before shipping it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from safetensors.torch import load_file

from morpho.atomic import write_text
from morpho.segment.nets import ModelConfig
from morpho.segment.train import atomic_save


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("weights", type=Path, nargs="+", help="safetensors, .json beside each")
    parser.add_argument("--out", type=Path, required=True, help="output stem (.safetensors/.json)")
    args = parser.parse_args()
    configs = [json.loads(w.with_suffix(".json").read_text()) for w in args.weights]
    networks = [ModelConfig.from_dict(c["model"]) for c in configs]  # defaults filled in
    if any(n != networks[0] or c["preprocess"] != configs[0]["preprocess"]
           for n, c in zip(networks, configs, strict=True)):
        raise SystemExit("the weights differ in network or preprocessing: no soup")
    states = [load_file(str(w.with_suffix(".safetensors"))) for w in args.weights]
    soup = {}
    for name, first in states[0].items():
        stacked = torch.stack([s[name].double() for s in states])
        # integer buffers (BatchNorm's num_batches_tracked) are counts, not weights
        soup[name] = (stacked.mean(0) if first.is_floating_point() else stacked.max(0).values)
        soup[name] = soup[name].to(first.dtype)
    out = args.out.with_suffix("")
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_save(soup, out.with_suffix(".safetensors"))
    config = {k: v for k, v in configs[0].items() if k not in ("epoch", "val_loss", "val_dice")}
    config["soup"] = [str(w) for w in args.weights]
    write_text(out.with_suffix(".json"), json.dumps(config, indent=1))
    print(f"mean of {len(states)} -> {out.with_suffix('.safetensors')}")


if __name__ == "__main__":
    main()
