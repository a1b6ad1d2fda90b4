"""Training augmentation: the bend moves image and mask together; without it, nothing moves."""

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
