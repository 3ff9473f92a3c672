"""mnist_app.optdigits: the UCI optdigits set (scikit-learn's copy) in MNIST's format."""

import sys

import numpy as np
import pytest

from ink_box import ink_box_sides
from mnist_app.errors import TrainingError
from mnist_app.optdigits import optdigits_pool, to_mnist
from mnist_app.preprocess import BOX, CENTER, center_of_mass


def test_pool_holds_all_1797_digits_in_mnist_format():
    pool = optdigits_pool()
    assert optdigits_pool() is pool  # prepared once per process
    assert len(pool) == 10 and sum(len(of_d) for of_d in pool) == 1797
    for of_d in pool:
        assert of_d.dtype == np.float32 and of_d.shape[1] == 784 and 170 <= len(of_d) <= 190
        assert not of_d.flags.writeable
    flat = np.concatenate(pool)
    assert flat.min() >= 0 and np.allclose(flat.max(axis=1), 1.0)
    height, width = ink_box_sides(flat)
    assert np.all(np.abs(np.maximum(height, width) - BOX) <= 2)  # the longer side fills MNIST's box
    centres = np.array([center_of_mass(x.reshape(28, 28)) for x in flat])
    assert np.all(np.abs(centres - CENTER) <= 1.0)  # whole-pixel centring


def test_the_shipped_model_reads_most_of_them():
    """They are digits in MNIST's format, not noise: the model trained on MNIST reads most of
    them (about 94%), though not all -- which is why they are worth training on."""
    from mnist_app.models import load

    network = load("shipped")
    network = network[0] if isinstance(network, tuple) else network
    pool = optdigits_pool()
    right = sum(int(np.count_nonzero(network.feedforward(pool[d]).argmax(axis=1) == d)) for d in range(10))
    assert 0.9 < right / 1797 < 0.99


def test_an_8x8_bar_becomes_a_tall_thin_stroke_and_its_faint_halo_paper():
    bar = np.zeros((8, 8))
    bar[1:7, 3:5] = 1.0
    image = to_mnist(bar)
    assert image.shape == (28, 28) and image.dtype == np.float32
    height, width = ink_box_sides(image)
    assert height[0] == pytest.approx(BOX, abs=1) and width[0] <= 6
    speck = bar.copy()
    speck[3, 6] = 2 / 16  # two ink pixels of 16 in a block: under CONTRAST_FLOOR once enlarged
    np.testing.assert_array_equal(to_mnist(speck), image)


def test_without_scikit_learn_the_error_names_the_extra(monkeypatch):
    optdigits_pool.cache_clear()
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)  # import fails as if not installed
    try:
        with pytest.raises(TrainingError, match=r"\[optdigits\]"):
            optdigits_pool()
    finally:
        optdigits_pool.cache_clear()
