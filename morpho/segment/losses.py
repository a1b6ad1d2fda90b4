"""Soft Dice + binary cross-entropy on logits, the study's loss; optional gap and outline
weights and the body-core target."""

from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage as ndi


def soft_dice_loss(logits: torch.Tensor, target: torch.Tensor, eps: float = 1.0) -> torch.Tensor:
    """1 - soft Dice over the whole batch (smoothed with ``eps``)."""
    prob = torch.sigmoid(logits)
    intersection = (prob * target).sum()
    return 1 - (2 * intersection + eps) / (prob.sum() + target.sum() + eps)


def dice_bce_loss(
    logits: torch.Tensor, target: torch.Tensor, bce_weight: float = 1.0,
    pixel_weights: torch.Tensor | None = None,
):
    """Soft Dice loss plus ``bce_weight`` times mean BCE (each pixel's BCE times
    ``pixel_weights`` where given)."""
    bce = F.binary_cross_entropy_with_logits(logits, target, weight=pixel_weights)
    return soft_dice_loss(logits, target) + bce_weight * bce


def outline_band(mask: torch.Tensor, radius: int = 1) -> torch.Tensor:
    """(N, 1, H, W) 0/1 masks -> 1 on the pixels within ``radius`` px of a body's outline
    (inside or outside; dilation minus erosion, square window), 0 elsewhere."""
    size = 2 * radius + 1
    grown = F.max_pool2d(mask, size, stride=1, padding=radius)
    shrunk = -F.max_pool2d(-mask, size, stride=1, padding=radius)
    return grown - shrunk


def gap_mask(mask: np.ndarray, radius: int = 3) -> np.ndarray:
    """Background pixels with two different bodies (connected components of ``mask``)
    within ``radius`` px: the gaps between neighbouring bodies, as the U-Net paper's
    separation weights, on a square window."""
    count, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    if count < 3:
        return np.zeros(mask.shape, bool)
    labels = labels.astype(np.float32)
    kernel = np.ones((2 * radius + 1,) * 2, np.uint8)
    highest = cv2.dilate(labels, kernel)
    lowest = cv2.erode(np.where(labels > 0, labels, np.float32(count)), kernel)
    return (labels == 0) & (highest > lowest) & (lowest < count)


def with_gap_channel(masks: np.ndarray, radius: int = 3) -> np.ndarray:
    """(N, H, W) 0/1 masks -> (N, 2, H, W) uint8: each mask and its ``gap_mask``, so that the
    gaps are found once (on the packed masks) and warped with them in augmentation."""
    gaps = np.stack([gap_mask(m > 0, radius) for m in masks])
    return np.stack([masks, gaps.astype(masks.dtype)], axis=1)


CORE_FRACTION = 0.4  # a core: pixels deeper in their body than this share of its deepest


def core_mask(mask: np.ndarray, fraction: float = CORE_FRACTION) -> np.ndarray:
    """Each body's (connected component's) core: its pixels whose distance to the outline is
    over ``fraction`` of the body's largest. Neighbours' cores stay apart by about
    ``2 * fraction`` of a body's height even where the masks nearly touch, and the midline
    between two cores is the disc between the bodies."""
    count, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    if count < 2:
        return np.zeros(mask.shape, bool)
    dist = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, 5)
    deepest = np.zeros(count, np.float32)
    deepest[1:] = ndi.maximum(dist, labels, index=np.arange(1, count))
    return (labels > 0) & (dist > fraction * deepest[labels])


def with_core_channel(masks: np.ndarray) -> np.ndarray:
    """(N, C, H, W) or (N, H, W) masks -> one more channel: the ``core_mask`` of channel 0."""
    masks = masks if masks.ndim == 4 else masks[:, None]
    cores = np.stack([core_mask(m > 0) for m in masks[:, 0]]).astype(masks.dtype)
    return np.concatenate([masks, cores[:, None]], axis=1)
