"""Training: packed arrays in RAM, on-the-fly radiograph augmentation, Dice + BCE, Adam.

A run folder holds ``train.json`` (the ``TrainConfig``), ``best.safetensors`` + ``best.json``
(the epoch with the best validation loss, and the model + preprocessing config with that
epoch's validation loss and Dice: what ``morpho export`` and ``--init`` read),
``last.safetensors`` + ``last_optim.safetensors`` + ``state.json`` (to resume) and
``log.csv`` (one row per epoch).
"""

from __future__ import annotations

import csv
import json
import math
import random
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from rich.progress import Progress
from safetensors.torch import load_file, save_file

from morpho.atomic import atomic_write, write_text
from morpho.datasets.contract import load_dataset
from morpho.datasets.pack import pack_dataset, pack_key
from morpho.errors import MorphoError
from morpho.preprocess import PreprocessConfig
from morpho.segment.losses import (
    dice_bce_loss,
    outline_band,
    with_core_channel,
    with_gap_channel,
)
from morpho.segment.nets import ModelConfig, create_model


@dataclass
class TrainConfig:
    """Everything a run needs; written to ``train.json`` in the run folder."""

    datasets: list[str]
    out: str = "runs/seg"
    preprocess: PreprocessConfig = field(default_factory=PreprocessConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    epochs: int = 100
    batch_size: int = 8
    lr: float = 1e-4
    patience: int = 12  # epochs without a better validation loss before stopping
    max_minutes: float | None = None
    seed: int = 0
    init: str | None = None  # start from these weights (fine-tuning)
    pack_dir: str = "data/packed"
    weights: list[float] | None = None  # share of batches per dataset (default: by size)
    cpu_bf16: bool = True  # bfloat16 autocast on CPU (much faster where supported)
    schedule: str = "plateau"  # plateau: halve lr after 3 flat epochs; cosine: decay over epochs
    gap_weight: float = 0.0  # extra BCE weight on the gaps between bodies (0: plain loss)
    outline_weight: float = 0.0  # extra BCE weight within 1 px of each body's outline
    core_weight: float = 0.0  # weight of a second output, each body's core (0: body only)
    bend: float = 0.0  # amplitude of a random smooth sideways bend (augmentation; 0: none)
    aug_strength: float = 1.0  # augmentation ranges x this (0: left-right flips only)
    resample: float = 0.0  # share of samples re-rendered from a lower resolution (0: none)
    edges: float = 0.0  # share of samples crossed by a soft oblique shadow (0: none)


def cosine_lr(lr: float, epoch: int, epochs: int, done: float = 0.0, floor: float = 0.02) -> float:
    """Cosine decay from ``lr`` at epoch 0 to ``floor * lr`` at ``epochs``, or sooner: at
    ``done`` (the fraction of the time budget spent) when that is further along."""
    t = max(min(epoch, epochs) / max(epochs, 1), min(done, 1.0))
    return lr * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * t)))


@dataclass
class Augment:
    """Radiograph augmentation ranges (applied per sample on the batch)."""

    rotate_deg: float = 10.0
    scale: tuple[float, float] = (0.85, 1.2)
    shift: float = 0.06
    flip: float = 0.5
    contrast: tuple[float, float] = (0.6, 1.4)
    brightness: float = 0.15
    gamma: tuple[float, float] = (0.6, 1.7)
    noise: float = 0.05
    blur: float = 0.3  # probability of a slight blur
    bend: float = 0.0  # sideways bend amplitude, in half-widths (0: no bend, no extra draws)
    resample: float = 0.0  # probability of a down-and-up resampling (0: none, no extra draws)
    resample_scale: tuple[float, float] = (0.35, 0.9)  # the lower resolution, x the input's
    edges: float = 0.0  # probability of a soft oblique shadow or band (0: none, no extra draws)
    edge_factor: tuple[float, float] = (0.45, 0.9)  # the shadowed side's intensity, x

    def scaled(self, strength: float) -> Augment:
        """The ranges shrunk towards no change (1: as they are; 0: left-right flips only).
        The random draws stay the same, so runs differ only in how far each sample moves."""
        if strength == 1.0:
            return self

        def linear(lo: float, hi: float) -> tuple[float, float]:
            return 1 + (lo - 1) * strength, 1 + (hi - 1) * strength

        return Augment(
            rotate_deg=self.rotate_deg * strength,
            scale=(self.scale[0] ** strength, self.scale[1] ** strength),
            shift=self.shift * strength, flip=self.flip, contrast=linear(*self.contrast),
            brightness=self.brightness * strength,
            gamma=(self.gamma[0] ** strength, self.gamma[1] ** strength),
            noise=self.noise * strength, blur=self.blur * strength, bend=self.bend * strength,
            resample=self.resample * strength, resample_scale=self.resample_scale,
            edges=self.edges * strength, edge_factor=linear(*self.edge_factor))


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def augment(images: torch.Tensor, masks: torch.Tensor, aug: Augment, gen: torch.Generator):
    """Random affine (rotation, scale, shift, left-right flip), an optional smooth sideways
    bend (a curved spine: columns shift by ``bend * sin(pi * waves * y + phase)``) and
    intensity changes, on the images' device (the random draws come from ``gen`` on the CPU).
    ``masks`` (N, C, H, W) take the same warp, each channel thresholded at 0.5."""
    n, device = images.shape[0], images.device

    def uniform(lo: float, hi: float) -> torch.Tensor:
        return lo + (hi - lo) * torch.rand(n, generator=gen)

    angle = torch.deg2rad(uniform(-aug.rotate_deg, aug.rotate_deg))
    scale = torch.exp(uniform(math.log(aug.scale[0]), math.log(aug.scale[1])))
    flip = torch.where(torch.rand(n, generator=gen) < aug.flip, -1.0, 1.0)
    h, w = images.shape[-2:]
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0], theta[:, 0, 1] = cos * flip, -sin * h / w
    theta[:, 1, 0], theta[:, 1, 1] = sin * w / h * flip, cos
    theta[:, 0, 2] = uniform(-aug.shift, aug.shift) * 2
    theta[:, 1, 2] = uniform(-aug.shift, aug.shift) * 2
    grid = F.affine_grid(theta.to(device), list(images.shape), align_corners=False)
    if aug.bend > 0:
        amplitude, waves = uniform(-aug.bend, aug.bend), uniform(0.5, 1.5)
        phase = uniform(0.0, 2 * math.pi)
        waves, phase, amplitude = (v.view(n, 1, 1).to(device) for v in (waves, phase, amplitude))
        grid[..., 0] += amplitude * torch.sin(math.pi * waves * grid[..., 1] + phase)
    images = F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    masks = F.grid_sample(masks, grid, mode="bilinear", padding_mode="zeros", align_corners=False)

    def per_image(values: torch.Tensor) -> torch.Tensor:
        return values.view(n, 1, 1, 1).to(device)

    if aug.edges > 0:
        images = shadowed(images, grid, aug, gen)
    gamma = per_image(torch.exp(uniform(math.log(aug.gamma[0]), math.log(aug.gamma[1]))))
    images = images.clamp(0, 1) ** gamma
    mean = images.mean(dim=(1, 2, 3), keepdim=True)
    images = (images - mean) * per_image(uniform(*aug.contrast)) + mean
    images = images + per_image(uniform(-aug.brightness, aug.brightness))
    blur = per_image(torch.rand(n, generator=gen) < aug.blur)
    images = torch.where(blur, F.avg_pool2d(images, 3, 1, 1, count_include_pad=False), images)
    if aug.resample > 0:
        images = resampled(images, aug, gen)
    sigma = per_image(uniform(0, aug.noise))
    images = images + sigma * torch.randn(images.shape, generator=gen).to(device)
    return images.clamp(0, 1), (masks > 0.5).float()


def shadowed(images: torch.Tensor, grid: torch.Tensor, aug: Augment,
             gen: torch.Generator) -> torch.Tensor:
    """Each image, with probability ``aug.edges``, darkened beyond a soft oblique line (or
    within a band along it) through its middle half: the diaphragm, lung bases and air that
    cross the lower thoracic spine on a lateral chest film, whose edges an outline must not
    follow. ``grid`` (the warp's, -1..1) gives the positions; the masks are unchanged."""
    n, device = images.shape[0], images.device

    def uniform(lo: float, hi: float) -> torch.Tensor:
        return (lo + (hi - lo) * torch.rand(n, generator=gen)).view(n, 1, 1).to(device)

    chosen = (torch.rand(n, generator=gen) < aug.edges).view(n, 1, 1).to(device)
    angle = uniform(-math.pi / 3, math.pi / 3)  # from the horizontal
    x0, y0 = uniform(-0.5, 0.5), uniform(-0.5, 0.5)
    soft, factor = uniform(0.01, 0.06), uniform(*aug.edge_factor)
    band = uniform(0.05, 0.3)
    is_band = torch.rand(n, generator=gen).view(n, 1, 1).to(device) < 0.4
    side = torch.where(torch.rand(n, generator=gen) < 0.5, -1.0, 1.0).view(n, 1, 1).to(device)
    x, y = grid[..., 0], grid[..., 1]
    d = side * (-(x - x0) * torch.sin(angle) + (y - y0) * torch.cos(angle))
    beyond = torch.sigmoid(d / soft)
    inside = torch.sigmoid((d + band / 2) / soft) - torch.sigmoid((d - band / 2) / soft)
    weight = torch.where(is_band, inside, beyond) * chosen
    return images * (1 - (1 - factor) * weight).unsqueeze(1)


def resampled(images: torch.Tensor, aug: Augment, gen: torch.Generator) -> torch.Tensor:
    """Each image, with probability ``aug.resample``, area-reduced to a random share of its
    size and enlarged back (bilinear): what a small JPEG export or a reduced decode feeds the
    network."""
    n, (h, w) = images.shape[0], images.shape[-2:]
    chosen = torch.rand(n, generator=gen) < aug.resample
    lo, hi = aug.resample_scale
    factors = lo + (hi - lo) * torch.rand(n, generator=gen)
    out = images.clone()
    for i in chosen.nonzero().flatten().tolist():
        size = (max(8, round(h * float(factors[i]))), max(8, round(w * float(factors[i]))))
        small = F.interpolate(images[i : i + 1], size=size, mode="area")
        out[i : i + 1] = F.interpolate(small, size=(h, w), mode="bilinear", align_corners=False)
    return out


def crop_to_content(x: np.ndarray, y: np.ndarray, multiple: int = 32):
    """Cut the zero padding that a batch of packed canvases shares (whole multiples of
    ``multiple`` rows and columns), so that smaller canvases train at their own cost."""
    filled = x.any(axis=0)
    rows, cols = np.flatnonzero(filled.any(axis=1)), np.flatnonzero(filled.any(axis=0))
    if rows.size == 0:
        return x, y
    box = []
    for used, size in ((rows, x.shape[1]), (cols, x.shape[2])):
        extent = -(-(used[-1] + 1 - used[0]) // multiple) * multiple
        start = min(max(0, (used[0] + used[-1] + 1 - extent) // 2), max(0, size - extent))
        box.append(slice(start, start + min(extent, size)))
    return x[:, box[0], box[1]], y[..., box[0], box[1]]


def load_packed(config: TrainConfig) -> tuple[list[dict], list[dict], np.ndarray]:
    """Pack (once) and load every dataset.

    Returns per-dataset train arrays, per-dataset val arrays and each dataset's share of the
    training batches (``config.weights``, default by size). A batch comes from one dataset,
    so datasets may have different canvas widths (``fit``).
    """
    train_sets, val_sets, shares = [], [], []
    for k, path in enumerate(config.datasets):
        path = Path(path)
        dataset = load_dataset(path)
        key = pack_key(path, config.preprocess)
        packed = pack_dataset(dataset, config.preprocess, Path(config.pack_dir) / f"{key}.npz")
        data = np.load(packed)
        for part, target in (("train", train_sets), ("val", val_sets)):
            keep = data["split"] == part
            target.append({"x": data["images"][keep], "y": data["masks"][keep]})
        shares.append(config.weights[k] if config.weights else len(train_sets[-1]["x"]))
    shares = np.array(shares, dtype=float) * [len(t["x"]) > 0 for t in train_sets]
    return train_sets, [v for v in val_sets if len(v["x"])], shares / shares.sum()


def to_tensor(array: np.ndarray, device: torch.device, scale: float = 1.0) -> torch.Tensor:
    """(N, H, W) or (N, C, H, W) uint8 -> (N, C, H, W) float on ``device``, divided by
    ``scale`` (C = 1 for the first)."""
    tensor = torch.from_numpy(array).to(device).float().div_(scale)
    return tensor if tensor.ndim == 4 else tensor[:, None]


def optimizer_state(optimizer: torch.optim.Optimizer) -> dict[str, torch.Tensor]:
    """Adam's state as flat tensors for safetensors (no pickle)."""
    flat = {}
    for index, state in optimizer.state_dict()["state"].items():
        for name, value in state.items():
            flat[f"{index}.{name}"] = torch.as_tensor(value).contiguous()
    return flat


def restore_optimizer(optimizer: torch.optim.Optimizer, flat: dict[str, torch.Tensor]) -> None:
    state_dict = optimizer.state_dict()
    state: dict[int, dict] = {}
    for key, value in flat.items():
        index, name = key.split(".", 1)
        state.setdefault(int(index), {})[name] = value
    state_dict["state"] = state
    optimizer.load_state_dict(state_dict)


def load_matching(model: torch.nn.Module, weights: dict[str, torch.Tensor]) -> int:
    """Copy every tensor of ``weights`` whose name and shape match one of ``model``'s (a
    wider decoder can start from a trained encoder); returns how many. Raises when none
    match: the weights belong to another network."""
    own = model.state_dict()
    matching = {k: v for k, v in weights.items() if k in own and own[k].shape == v.shape}
    matching.update({k: _widened(v, own[k]) for k, v in weights.items()
                     if k.startswith("segmentation_head.") and k in own and k not in matching
                     and own[k].shape[1:] == v.shape[1:]})  # fmt: skip
    if not matching:
        raise ValueError("--init weights share no tensor with this network")
    model.load_state_dict(matching, strict=False)
    return len(matching)


def _widened(given: torch.Tensor, own: torch.Tensor) -> torch.Tensor:
    """A one-output head's tensor repeated for every output of ``own``: a body+core network
    starts both outputs from a trained body network's."""
    return given[:1].expand_as(own).clone()


def write_model_json(path: Path, config: TrainConfig, extra: dict | None = None) -> None:
    data = {
        "format": "morpho-segmenter",
        "model": config.model.to_dict(),
        "preprocess": config.preprocess.to_dict(),
        "threshold": 0.5,
        **(extra or {}),
    }
    write_text(path, json.dumps(data, indent=1))


def atomic_save(tensors: dict[str, torch.Tensor], path: Path) -> None:
    tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    atomic_write(path, lambda tmp: save_file(tensors, str(tmp)))


def output_loss(logits: torch.Tensor, y: torch.Tensor, core_weight: float = 0.0,
                pixel_weights: torch.Tensor | None = None) -> torch.Tensor:
    """Dice + BCE of the body (channel 0, ``pixel_weights`` on its BCE) plus, with
    ``core_weight``, ``core_weight`` times that of the core (the last channel of ``y``)."""
    loss = dice_bce_loss(logits[:, :1], y[:, :1], pixel_weights=pixel_weights)
    if core_weight:
        loss = loss + core_weight * dice_bce_loss(logits[:, 1:2], y[:, -1:])
    return loss


@torch.no_grad()
def validate(model, val_sets: list[dict], device, batch_size: int, amp: bool,
             core_weight: float = 0.0):
    """Mean validation loss (``output_loss``) and mean per-image Dice of the body (threshold
    0.5, network size)."""
    model.eval()
    losses, dices, count = [], [], 0
    for val in val_sets:
        for start in range(0, len(val["x"]), batch_size):
            x = to_tensor(val["x"][start : start + batch_size], device, 255)
            x = x.contiguous(memory_format=torch.channels_last)
            y = to_tensor(val["y"][start : start + batch_size], device)
            with torch.autocast(device.type, enabled=amp):
                logits = model(x).float()
            losses.append(output_loss(logits, y, core_weight).item() * len(x))
            count += len(x)
            pred, truth = logits[:, :1] > 0, y[:, :1] > 0.5
            tp = (pred & truth).sum(dim=(1, 2, 3)).float()
            total = pred.sum(dim=(1, 2, 3)) + truth.sum(dim=(1, 2, 3))
            dices.extend(torch.where(total > 0, 2 * tp / total.clamp(min=1), 1.0).tolist())
    model.train()
    return float(np.sum(losses) / count), float(np.mean(dices))


def train(config: TrainConfig, resume: bool = False) -> Path:
    """Train (or, with ``resume`` and a ``state.json`` in ``config.out``, continue) a run;
    returns the path of the best weights, ``best.safetensors`` in the run folder.

    Refuses a dataset without validation items (``MorphoError``) and an unknown schedule
    (``ValueError``) before any file is written. Stops after ``config.epochs`` epochs,
    after ``config.patience`` epochs without a better validation loss, or, with
    ``config.max_minutes``, when one more epoch at the last one's pace would end past it."""
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    seed_everything(config.seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    amp = device.type == "cuda" or config.cpu_bf16
    train_sets, val_sets, shares = _training_data(config)
    run = _start_run(config, out, resume, device, amp)
    write_text(out / "train.json", json.dumps(asdict(config), indent=1, default=str))
    write_model_json(out / "best.json", config)
    _fit(run, config, (train_sets, val_sets, shares), resume)
    return out / "best.safetensors"


def _training_data(config: TrainConfig) -> tuple[list[dict], list[dict], np.ndarray]:
    """``load_packed``, after checking the schedule's name, with the validation items a run
    needs (refused in one line without them) and, with ``gap_weight``, the gap channel."""
    if config.schedule not in ("plateau", "cosine"):
        raise ValueError(f"unknown schedule {config.schedule!r} (plateau or cosine)")
    train_sets, val_sets, shares = load_packed(config)
    if not val_sets:
        raise MorphoError(config.datasets[0], "no validation items (split 'val'): a run needs "
                          "them to keep its best weights and to stop early; mark some items "
                          "'val' in the dataset JSON")  # fmt: skip
    if config.gap_weight:  # masks gain a second channel: the gaps between bodies
        for part in train_sets:
            part["y"] = with_gap_channel(part["y"])
    if config.core_weight:  # and a last one: the bodies' cores
        for part in train_sets + val_sets:
            part["y"] = with_core_channel(part["y"])
    return train_sets, val_sets, shares


@dataclass
class _Run:
    """A run in progress: the network, its optimiser and schedulers, and ``state`` (epoch,
    best loss and epoch, epochs without improvement, lr), as ``state.json`` keeps it."""

    out: Path
    device: torch.device
    amp: bool
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    plateau: torch.optim.lr_scheduler.ReduceLROnPlateau
    scaler: torch.amp.GradScaler
    state: dict


def _start_run(config: TrainConfig, out: Path, resume: bool, device: torch.device,
               amp: bool) -> _Run:
    """A new network (ImageNet encoder weights where configured, or ``config.init``'s
    matching tensors), or the last epoch of the run in ``out`` when resuming it."""
    resuming = resume and (out / "state.json").exists()
    fresh = not resuming and not config.init  # ImageNet encoder weights, where configured
    model = create_model(config.model, load_pretrained=fresh)
    model = model.to(device, memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=3)
    scaler = torch.amp.GradScaler(enabled=device.type == "cuda")
    state = {"epoch": 0, "best_loss": float("inf"), "best_epoch": 0, "bad_epochs": 0}
    if resuming:
        model.load_state_dict(load_file(str(out / "last.safetensors")))
        restore_optimizer(optimizer, load_file(str(out / "last_optim.safetensors")))
        state = json.loads((out / "state.json").read_text())
        for group in optimizer.param_groups:
            group["lr"] = state.get("lr", config.lr)
    elif config.init:
        load_matching(model, load_file(str(Path(config.init).with_suffix(".safetensors"))))
    return _Run(out, device, amp, model, optimizer, plateau, scaler, state)


LOG_HEADER = ["epoch", "train_loss", "val_loss", "val_dice", "lr", "seconds", "best"]


@contextmanager
def _epoch_log(path: Path, append: bool):
    """A function that writes one ``log.csv`` row and flushes it; the file starts afresh
    (with its header) unless ``append`` and it exists."""
    new_log = not path.exists() or not append
    with open(path, "w" if new_log else "a", newline="") as log_file:
        log = csv.writer(log_file)
        if new_log:
            log.writerow(LOG_HEADER)

        def write(row: list) -> None:
            log.writerow(row)
            log_file.flush()

        yield write


def _fit(run: _Run, config: TrainConfig, data: tuple, resume: bool) -> None:
    """Epochs until the last, the patience or the time budget runs out: train, validate,
    step the learning rate, keep the best and the last weights, log."""
    train_sets, val_sets, shares = data
    state = run.state
    gen = torch.Generator().manual_seed(config.seed + state["epoch"])
    aug = Augment(bend=config.bend, resample=config.resample,
                  edges=config.edges).scaled(config.aug_strength)
    rng = np.random.default_rng(config.seed + state["epoch"])
    steps = max(1, sum(len(t["x"]) for t in train_sets) // config.batch_size)
    started = time.monotonic()
    with _epoch_log(run.out / "log.csv", append=resume) as log, Progress() as bar:
        task = bar.add_task("training", total=config.epochs, completed=state["epoch"])
        run.model.train()
        while state["epoch"] < config.epochs and state["bad_epochs"] < config.patience:
            epoch_start = time.monotonic()
            batches = (_batch(train_sets, shares, rng, config.batch_size) for _ in range(steps))

            def show(loss: float) -> None:
                bar.update(task, description=f"epoch {state['epoch'] + 1} loss {loss:.3f}")

            total = _train_epoch(run, config, batches, aug, gen, show)
            val_loss, val_dice = validate(run.model, val_sets, run.device, config.batch_size,
                                          run.amp, config.core_weight)  # fmt: skip
            state["epoch"] += 1
            elapsed = (time.monotonic() - started) / 60
            _step_lr(run, config, val_loss, elapsed)
            improved = _keep(run, config, val_loss, val_dice)
            seconds = time.monotonic() - epoch_start
            log([state["epoch"], f"{total / steps:.4f}", f"{val_loss:.4f}", f"{val_dice:.4f}",
                 f"{state['lr']:.2e}", f"{seconds:.0f}", int(improved)])
            bar.update(task, completed=state["epoch"])
            if config.max_minutes and elapsed + seconds / 60 > config.max_minutes:
                break


def _batch(train_sets: list[dict], shares: np.ndarray, rng: np.random.Generator,
           size: int) -> tuple[np.ndarray, np.ndarray]:
    """One training batch: a dataset drawn by its share, ``size`` of its items (with
    replacement, in index order), cropped to their shared content."""
    part = train_sets[rng.choice(len(shares), p=shares)]
    index = np.sort(rng.choice(len(part["x"]), size))
    return crop_to_content(part["x"][index], part["y"][index])


def _train_epoch(run: _Run, config: TrainConfig, batches, aug: Augment,
                 gen: torch.Generator, show) -> float:
    """One optimiser step per batch of ``batches`` (augmented on the device); the sum of
    the losses. ``show(loss)`` after each step."""
    total = 0.0
    for x, y in batches:
        x, y = augment(to_tensor(x, run.device, 255), to_tensor(y, run.device), aug, gen)
        x = x.contiguous(memory_format=torch.channels_last)
        w = pixel_weights(y, config.gap_weight, config.outline_weight)
        with torch.autocast(run.device.type, enabled=run.amp):
            loss = output_loss(run.model(x).float(), y, config.core_weight, w)
        run.optimizer.zero_grad(set_to_none=True)
        run.scaler.scale(loss).backward()
        run.scaler.step(run.optimizer)
        run.scaler.update()
        total += loss.item()
        show(loss.item())
    return total


def pixel_weights(y: torch.Tensor, gap_weight: float, outline_weight: float
                  ) -> torch.Tensor | None:
    """The BCE weight of each pixel: 1, plus ``gap_weight`` on the gaps between bodies (the
    gap channel of ``y``), plus ``outline_weight`` within a pixel of a body's outline; None
    when both are 0 (the plain loss)."""
    if not gap_weight and not outline_weight:
        return None
    w = torch.ones_like(y[:, :1])
    if gap_weight:
        w = w + gap_weight * y[:, 1:2]
    if outline_weight:
        w = w + outline_weight * outline_band(y[:, :1])
    return w


def _step_lr(run: _Run, config: TrainConfig, val_loss: float, elapsed: float) -> None:
    """The learning rate after an epoch: ``cosine_lr`` of the epochs or of the share of
    the time budget spent (``elapsed`` minutes), whichever is further along, or halved
    after a plateau; recorded in ``state["lr"]``."""
    if config.schedule == "cosine":
        done = elapsed / config.max_minutes if config.max_minutes else 0.0
        for group in run.optimizer.param_groups:
            group["lr"] = cosine_lr(config.lr, run.state["epoch"], config.epochs, done)
    else:
        run.plateau.step(val_loss)
    run.state["lr"] = run.optimizer.param_groups[0]["lr"]


def _keep(run: _Run, config: TrainConfig, val_loss: float, val_dice: float) -> bool:
    """Save the epoch's weights as the best (``best.safetensors`` + ``best.json``) when its
    validation loss is the lowest yet (returns whether it was), and always as the last
    (``last.safetensors``, ``last_optim.safetensors``, ``state.json``)."""
    state, out = run.state, run.out
    improved = val_loss < state["best_loss"]
    if improved:
        state.update(best_loss=val_loss, best_epoch=state["epoch"], bad_epochs=0)
        atomic_save(run.model.state_dict(), out / "best.safetensors")
        write_model_json(out / "best.json", config, {"epoch": state["epoch"],
                         "val_loss": val_loss, "val_dice": val_dice})
    else:
        state["bad_epochs"] += 1
    atomic_save(run.model.state_dict(), out / "last.safetensors")
    atomic_save(optimizer_state(run.optimizer), out / "last_optim.safetensors")
    write_text(out / "state.json", json.dumps(state))
    return improved
