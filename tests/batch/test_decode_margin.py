"""The decode margin: a model JSON's "decode_margin" sets how far batch reduces a decode."""

import json

import numpy as np

from morpho.batch.chain import DECODE_MARGIN, ChainWorker
from morpho.chain import FilmSettings, decode_shape, load_film
from morpho.io.writer import write_dicom
from morpho.preprocess import PreprocessConfig
from morpho.segment.infer import default_model_path


def test_decode_shape_scales_with_the_margin():
    config = PreprocessConfig(height=512, width=512)
    two = decode_shape((2048, 2048), config)
    assert two == tuple(DECODE_MARGIN * n for n in decode_shape((2048, 2048), config, 1))


def test_j2k_film_decodes_at_the_network_scale_with_margin_one(tmp_path):
    rng = np.random.default_rng(0)
    pixels = (rng.random((1024, 1024)) * 4095).astype(np.uint16)
    path = tmp_path / "film.dcm"
    write_dicom(path, pixels, spacing_mm=0.2, bits_stored=12, compression="jpeg2000")
    config = PreprocessConfig(height=256, width=256)
    settings = FilmSettings(reduced=True)
    assert load_film(path, settings, config).reduction.factor == 2
    one = load_film(path, settings, config, margin=1)
    assert one.reduction.factor == 4 and one.radiograph.pixels.shape == (256, 256)


def test_chain_worker_takes_the_margin_from_the_model_json(tmp_path):
    source = default_model_path()
    target = tmp_path / source.name
    target.symlink_to(source)
    config = json.loads(source.with_suffix(".json").read_text())
    target.with_suffix(".json").write_text(json.dumps({**config, "decode_margin": 1}))
    assert ChainWorker(str(target), threads=1).margin == 1
    assert ChainWorker(None, threads=1).margin == config.get("decode_margin", DECODE_MARGIN)
