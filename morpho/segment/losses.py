"""Soft Dice + binary cross-entropy on logits, the study's loss."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def soft_dice_loss(logits: torch.Tensor, target: torch.Tensor, eps: float = 1.0) -> torch.Tensor:
    """1 - soft Dice over the whole batch (smoothed with ``eps``)."""
    prob = torch.sigmoid(logits)
    intersection = (prob * target).sum()
    return 1 - (2 * intersection + eps) / (prob.sum() + target.sum() + eps)


def dice_bce_loss(logits: torch.Tensor, target: torch.Tensor, bce_weight: float = 1.0):
    """Soft Dice loss plus ``bce_weight`` times mean BCE."""
    bce = F.binary_cross_entropy_with_logits(logits, target)
    return soft_dice_loss(logits, target) + bce_weight * bce
