"""Dice, IoU and the loss on hand-computed cases."""

import numpy as np
import pytest
import torch

from morpho.segment.losses import dice_bce_loss, gap_mask, soft_dice_loss, with_gap_channel
from morpho.segment.metrics import bootstrap_ci, dice, iou, stats


def test_counts_dice_iou_by_hand():
    pred = np.array([[1, 1, 0, 0]], bool)
    truth = np.array([[0, 1, 1, 0]], bool)
    tp, fp, fn = stats(pred, truth)
    assert (tp, fp, fn) == (1, 1, 1)
    assert dice(tp, fp, fn) == pytest.approx(0.5)
    assert iou(tp, fp, fn) == pytest.approx(1 / 3)
    assert dice(0, 0, 0) == 1.0 and iou(0, 0, 0) == 1.0


def test_soft_dice_and_bce_by_hand():
    logits = torch.tensor([[[[0.0, 0.0]]]])  # probabilities 0.5, 0.5
    target = torch.tensor([[[[1.0, 0.0]]]])
    # soft Dice with eps=1: 1 - (2*0.5 + 1) / (1.0 + 1.0 + 1) = 1/3
    assert soft_dice_loss(logits, target).item() == pytest.approx(1 / 3)
    assert dice_bce_loss(logits, target).item() == pytest.approx(1 / 3 + np.log(2), rel=1e-6)
    perfect = torch.tensor([[[[20.0, -20.0]]]])
    assert dice_bce_loss(perfect, target).item() < 1e-6


def test_gap_weights_mark_only_the_space_between_bodies():
    mask = np.zeros((30, 20), bool)
    mask[2:10, 5:15] = True  # two bodies three rows apart
    mask[13:20, 5:15] = True
    mask[25:28, 0:3] = True  # a third, far from the others
    gaps = gap_mask(mask, radius=2)
    rows, cols = np.nonzero(gaps)
    assert set(rows) == {11}  # only the middle row sees both bodies within 2 px
    assert cols.min() == 3 and cols.max() == 16 and not (gaps & mask).any()
    assert not gap_mask(mask[:10], radius=2).any()  # one body: no gap
    stacked = with_gap_channel(mask[None].astype(np.uint8), radius=2)
    assert stacked.shape == (1, 2, 30, 20) and stacked.dtype == np.uint8
    assert (stacked[0, 0] == mask).all() and (stacked[0, 1] == gaps).all()
    # a weight on one pixel's BCE: (1 * log 2 + 3 * log 2) / 2
    logits, target = torch.zeros(1, 1, 1, 2), torch.tensor([[[[1.0, 0.0]]]])
    w = torch.tensor([[[[1.0, 3.0]]]])
    expected = 1 / 3 + 2 * np.log(2)
    assert dice_bce_loss(logits, target, pixel_weights=w).item() == pytest.approx(expected)


def test_bootstrap_interval_brackets_the_mean():
    values = np.random.default_rng(1).normal(0.9, 0.05, 60)
    lo, hi = bootstrap_ci(values)
    assert lo < values.mean() < hi and hi - lo < 0.05


def test_folder_and_contract_round_trip(tmp_path):
    import cv2

    from morpho.datasets.contract import load_dataset, truth_mask, write_dataset
    from morpho.datasets.folder import load_folder

    for i in range(10):
        cv2.imwrite(str(tmp_path / f"a{i}.png"), np.full((8, 6), 100, np.uint8))
        cv2.imwrite(str(tmp_path / f"a{i}_mask.png"), np.eye(8, 6, dtype=np.uint8) * 255)
    dataset = load_folder(tmp_path, val=0.2, test=0.2)
    assert len(dataset.items) == 10
    assert sorted(i.split for i in dataset.items).count("test") == 2
    write_dataset(dataset, tmp_path / "d.json")
    again = load_dataset(tmp_path / "d.json")
    assert [i.id for i in again.items] == [i.id for i in dataset.items]
    assert truth_mask(again.items[0], (8, 6)).sum() == 6


def test_landmark_quads_fill_bodies():
    from morpho.datasets.contract import DatasetItem, instance_labels

    corners = [[2, 2], [8, 2], [2, 6], [8, 6], [2, 10], [8, 10], [2, 14], [8, 14]]
    labels = instance_labels(DatasetItem("x", "x.png", "test", landmarks=corners), (20, 12))
    assert set(np.unique(labels)) == {0, 1, 2}
    assert labels[4, 5] == 1 and labels[12, 5] == 2 and labels[8, 5] == 0


def test_outline_weights_mark_a_band_along_each_body_outline():
    from morpho.segment.losses import outline_band
    from morpho.segment.train import pixel_weights

    mask = torch.zeros(1, 1, 12, 12)
    mask[0, 0, 3:9, 3:9] = 1.0  # one 6x6 body
    band = outline_band(mask)[0, 0]
    ring = np.zeros((12, 12), bool)
    ring[2:10, 2:10] = True
    ring[4:8, 4:8] = False  # 1 px either side of the outline
    assert (band.numpy() == ring).all()
    y = torch.cat([mask, torch.zeros_like(mask)], dim=1)  # body and (empty) gap channel
    assert pixel_weights(y, 0.0, 0.0) is None
    w = pixel_weights(y, 5.0, 2.0)[0, 0].numpy()
    assert set(np.unique(w[ring])) == {3.0} and set(np.unique(w[~ring])) == {1.0}
