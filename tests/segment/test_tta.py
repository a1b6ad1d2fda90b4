"""Test-time augmentation modes: the mirrored pass always, never, or only where the plain
pass is uncertain; the model JSON decides."""

import json

import numpy as np
import pytest

from morpho.errors import MorphoError
from morpho.segment.infer import TTA_MODES, Segmenter, default_model_path, tta_mode, uncertain_share


def model_copy(tmp_path, **config) -> str:
    """The shipped model with its JSON changed by ``config``."""
    source = default_model_path()
    target = tmp_path / source.name
    target.symlink_to(source)
    data = json.loads(source.with_suffix(".json").read_text())
    target.with_suffix(".json").write_text(json.dumps({**data, **config}))
    return str(target)


def test_uncertain_share_counts_the_band_inside_the_body_region():
    prob = np.zeros((10, 10), np.float32)
    assert uncertain_share(prob) == 1.0  # nothing found: worth the second look
    prob[:4] = 0.95
    assert uncertain_share(prob) == 0.0
    prob[4] = 0.5  # 10 of 50 pixels of the region
    assert uncertain_share(prob) == pytest.approx(0.2)
    prob[5] = 0.2  # under the band: outside the region
    assert uncertain_share(prob, (0.3, 0.7)) == pytest.approx(0.2)


def test_tta_mode_from_flag_or_config():
    assert tta_mode({"tta": "flip"}, None) == "flip"
    assert tta_mode({}, None) == "none"
    assert tta_mode({"tta": "flip"}, False) == "none"
    assert tta_mode({}, True) == "flip"
    assert tta_mode({"tta": "flip"}, "flip-if-uncertain") == "flip-if-uncertain"
    assert set(TTA_MODES) == {"none", "flip", "flip-if-uncertain"}
    with pytest.raises(MorphoError, match="unknown tta"):
        tta_mode({"tta": "rotate"}, None)


def test_flip_if_uncertain_is_plain_or_flip_per_image(tmp_path):
    rng = np.random.default_rng(0)
    images = [rng.random((200, 120)).astype(np.float32) for _ in range(3)]
    plain = Segmenter(threads=1, flip=False).probability_maps(images)
    flip = Segmenter(threads=1, flip=True).probability_maps(images)
    never = Segmenter(model_copy(tmp_path, tta="flip-if-uncertain", tta_uncertain_share=1.0),
                      threads=1)  # fmt: skip
    assert "+flip-if-uncertain" in never.model_version
    for a, b in zip(never.probability_maps(images), plain, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)
    assert (never.passes, never.flipped) == (3, 0)
    always = Segmenter(threads=1, flip="flip-if-uncertain")
    always.uncertain_share = -1.0  # every image is over it
    for a, b in zip(always.probability_maps(images), flip, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)
    assert (always.passes, always.flipped) == (3, 3)
