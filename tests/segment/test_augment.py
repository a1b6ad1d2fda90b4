"""Training augmentation: the bend moves image and mask together; without it, nothing moves;
resampling and shadows change the image, never the mask."""

import numpy as np
import torch

from morpho.segment.train import Augment, augment

STILL = dict(rotate_deg=0.0, scale=(1.0, 1.0), shift=0.0, flip=0.0, contrast=(1.0, 1.0),
             brightness=0.0, gamma=(1.0, 1.0), noise=0.0, blur=0.0)


def _column(n: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    mask = torch.zeros(n, 1, 128, 64)
    mask[..., 24:40] = 1.0
    return mask * 0.8, mask


def test_bend_curves_the_column_and_keeps_the_mask_on_it():
    image, mask = _column()
    gen = torch.Generator().manual_seed(1)
    out, out_mask = augment(image, mask, Augment(**STILL, bend=0.3), gen)
    bright = out[:, 0] > 0.4
    assert torch.equal(bright, out_mask[:, 0].bool() & bright)  # the mask follows the image
    assert (bright ^ out_mask[:, 0].bool()).float().mean() < 0.01
    centres = np.array([[np.flatnonzero(row).mean() for row in m[8:-8]] for m in bright.numpy()])
    assert (centres.max(axis=1) - centres.min(axis=1)).max() > 4  # a real bend, in px


def test_without_bend_a_still_augment_is_the_identity():
    image, mask = _column()
    out, out_mask = augment(image, mask, Augment(**STILL), torch.Generator().manual_seed(2))
    assert torch.allclose(out, image, atol=1e-5) and torch.equal(out_mask, mask)


def test_strength_zero_keeps_only_the_flips():
    image = torch.rand(8, 1, 32, 16, generator=torch.Generator().manual_seed(0))
    mask = (image > 0.5).float()
    out, out_mask = augment(image, mask, Augment().scaled(0.0), torch.Generator().manual_seed(3))
    mirrored = [torch.allclose(o, i.flip(-1), atol=1e-5) for o, i in zip(out, image, strict=True)]
    same = [torch.allclose(o, i, atol=1e-5) for o, i in zip(out, image, strict=True)]
    assert all(m != s for m, s in zip(mirrored, same, strict=True)) and any(mirrored) and any(same)
    assert torch.equal(out_mask, torch.stack(
        [m.flip(-1) if f else m for m, f in zip(mask, mirrored, strict=True)]))


def test_half_strength_halves_the_ranges():
    half = Augment().scaled(0.5)
    assert half.rotate_deg == 5.0 and half.flip == 0.5
    assert np.allclose(half.contrast, (0.8, 1.2)) and np.isclose(half.gamma[0], 0.6 ** 0.5)
    assert Augment().scaled(1.0) == Augment()


def test_resample_softens_the_image_and_leaves_the_mask():
    image, mask = _column()
    gen = torch.Generator().manual_seed(4)
    out, out_mask = augment(image, mask, Augment(**STILL, resample=1.0), gen)
    assert torch.equal(out_mask, mask)  # the truth does not move
    edges = (out[..., 20:44] - image[..., 20:44]).abs().amax(dim=(1, 2, 3))
    assert (edges > 0.05).all()  # each image lost its sharp column edge...
    brightness = out.mean(dim=(1, 2, 3)), image.mean(dim=(1, 2, 3))
    assert torch.allclose(*brightness, atol=0.02)  # ...not its brightness


def test_edges_shadow_part_of_each_image_and_leave_the_mask():
    image, mask = torch.full((6, 1, 64, 64), 0.8), torch.zeros(6, 1, 64, 64)
    mask[..., 20:44, 24:40] = 1.0
    runs = [augment(image, mask, Augment(**STILL, edges=1.0), torch.Generator().manual_seed(5))
            for _ in range(2)]
    (out, out_mask), (again, _) = runs
    assert torch.equal(out, again)  # deterministic per seed
    assert torch.equal(out_mask, mask)  # the truth does not move
    assert (out <= image + 1e-6).all()  # a shadow only darkens
    shadowed = (out < 0.75).float().mean(dim=(1, 2, 3))
    assert ((shadowed > 0.02) & (shadowed < 0.98)).all()  # part of every image, not all
    kept = augment(image, mask, Augment(**STILL, edges=0.0), torch.Generator().manual_seed(5))[0]
    assert torch.allclose(kept, image, atol=1e-5)  # off: nothing changes
