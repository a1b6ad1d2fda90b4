#!/usr/bin/env bash
# Train the segmenter on a lent GPU machine (the `device` tool), in one prepared call.
#
# That machine starts bare with its own python3 (torch, timm, typer, opencv, scikit-image,
# pandas, statsmodels, rich, safetensors, onnxruntime), without segmentation-models-pytorch
# or pydicom, and ../shared does not travel. Prepare here, once (about 50 MiB in all):
#   for d in aasce synth synth-fract; do
#     python analysis/seg_compact_dataset.py data/$d/dataset.json --out data/compact/$d; done
#   mkdir -p .git/info && echo /.whl/ >> .git/info/exclude
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
#     --implementation cp --platform manylinux2014_x86_64 -d .whl \
#     segmentation-models-pytorch==0.6.0 pydicom==3.0.2
# Then call the tool's run with
#   command: bash analysis/gpu_train.sh MINUTES [morpho train options...]
#   carry: ["data/compact", ".whl"], timeout_s: MINUTES * 60 + 150
# for example `bash analysis/gpu_train.sh 7 --encoder tu-regnetx_004 --decoder
# 128,64,32,16,8 --height 768 --width 768 --aspect budget --batch-size 32 --lr 3e-4
# --schedule cosine --epochs 40 --weights 0.6,0.25,0.15 --gap-weight 15 --patience 100`.
# Back in $OUT: log.csv, train.json, best.json and best.safetensors (in half precision, to fit
# the 16 MiB a returned file may hold; `morpho train --init` and `morpho export` cast it
# back to fp32), gpu.txt (nvidia-smi and the network's images/s at a batch that fills the GPU).
set -euo pipefail
minutes=$1
shift
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1
OUT=${OUT:?the device tool sets OUT}
(nvidia-smi 2>&1 || true) > "$OUT/gpu.txt"
python3 -c "from morpho.cli import app; app()" train data/compact/aasce/dataset.json \
    data/compact/synth/dataset.json data/compact/synth-fract/dataset.json \
    --out /tmp/run --max-minutes "$minutes" "$@" 2>&1 | tr '\r' '\n' | grep -v "━" || true
cp /tmp/run/log.csv /tmp/run/train.json /tmp/run/best.json "$OUT/"
python3 - <<'EOF' >> "$OUT/gpu.txt"
import json, os, time

import torch
from safetensors.torch import load_file, save_file

from morpho.segment.nets import ModelConfig, create_model

weights = load_file("/tmp/run/best.safetensors")
save_file({k: v.half() if v.is_floating_point() else v for k, v in weights.items()},
          os.path.join(os.environ["OUT"], "best.safetensors"))
if torch.cuda.is_available():
    config = json.load(open("/tmp/run/best.json"))
    model = create_model(ModelConfig.from_dict(config["model"])).cuda().eval()
    model.load_state_dict(weights)
    size = (config["preprocess"]["height"], config["preprocess"]["width"])
    for batch in (16, 64, 128):
        x = torch.rand(batch, 1, *size, device="cuda")
        with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
            for _ in range(3):
                model(x)
            torch.cuda.synchronize()
            start = time.perf_counter()
            for _ in range(10):
                model(x)
            torch.cuda.synchronize()
        rate = 10 * batch / (time.perf_counter() - start)
        print(f"{torch.cuda.get_device_name()}: batch {batch} at {size}, bf16: {rate:.0f} img/s")
EOF
cat "$OUT/gpu.txt" | tail -4
tail -5 "$OUT/log.csv"
