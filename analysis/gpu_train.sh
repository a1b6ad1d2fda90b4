#!/usr/bin/env bash
# Train segmenters on a lent GPU machine (the `device` tool), in one prepared call.
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
#   command: bash analysis/gpu_train.sh MINUTES "RUN 1 OPTIONS" ["RUN 2 OPTIONS"]
#   carry: ["data/compact", ".whl"], timeout_s: MINUTES * 60 + 150
# Each quoted argument is one `morpho train` run's options; the runs train side by side on
# the one GPU (small U-Nets leave most of it idle), each for MINUTES. For example
#   bash analysis/gpu_train.sh 7 "--encoder tu-regnetx_004 --decoder 128,64,32,16,8
#   --height 768 --width 768 --aspect budget --batch-size 16 --lr 1e-3 --schedule cosine
#   --epochs 1000 --patience 1000 --weights 0.6,0.25,0.15 --gap-weight 15"
# Back in $OUT (at most 8 files come back, so at most two runs): rN/log.csv, rN/best.json
# and rN/best.safetensors (half precision, to fit the 16 MiB a returned file may hold;
# `morpho train --init` and `morpho export` cast it back to fp32) per run, train.log (the
# runs' output) and gpu.txt (nvidia-smi and each network's images/s at a batch that fills
# the GPU).
set -euo pipefail
minutes=$1
shift
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1
OUT=${OUT:?the device tool sets OUT}
(nvidia-smi 2>&1 || true) > "$OUT/gpu.txt"
run=0
for options in "$@"; do
    run=$((run + 1))
    # shellcheck disable=SC2086  # each argument is a list of options
    python3 -c "from morpho.cli import app; app()" train data/compact/aasce/dataset.json \
        data/compact/synth/dataset.json data/compact/synth-fract/dataset.json \
        --out "/tmp/r$run" --max-minutes "$minutes" $options 2>&1 \
        | tr '\r' '\n' | grep -v "━" | sed "s/^/r$run: /" >> "$OUT/train.log" &
done
wait
for r in $(seq 1 "$run"); do
    mkdir -p "$OUT/r$r"
    cp "/tmp/r$r/log.csv" "/tmp/r$r/best.json" "$OUT/r$r/" || continue
    RUN=/tmp/r$r DEST=$OUT/r$r python3 - <<'PY' >> "$OUT/gpu.txt"
import json, os, time

import torch
from safetensors.torch import load_file, save_file

from morpho.segment.nets import ModelConfig, create_model

run, dest = os.environ["RUN"], os.environ["DEST"]
weights = load_file(f"{run}/best.safetensors")
save_file({k: v.half() if v.is_floating_point() else v for k, v in weights.items()},
          f"{dest}/best.safetensors")
if torch.cuda.is_available():
    config = json.load(open(f"{run}/best.json"))
    model = create_model(ModelConfig.from_dict(config["model"])).cuda().eval()
    model.load_state_dict(weights)
    size = (config["preprocess"]["height"], config["preprocess"]["width"])
    for batch in (16, 64):
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
        print(f"{run} {config['model']['encoder']}: batch {batch} at {size}, bf16: {rate:.0f} img/s")
PY
    tail -3 "$OUT/r$r/log.csv"
done
tail -4 "$OUT/gpu.txt"
