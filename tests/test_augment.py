"""Tests for mnist_app.augment: the distortions do what their parameters say.

Synthetic images (bars, dots) check the geometry exactly; a few hundred real MNIST
digits check that random distortions keep digits looking like digits (ink mass).
"""

from __future__ import annotations

import numpy as np
import pytest

from ink_box import ink_box_sides
from mnist_app import augment
from mnist_app.augment import (
    DEFAULTS,
    affine_matrices,
    affine_transform,
    augment_batch,
    bilinear_sample,
    change_thickness,
    coarse_grid_matrices,
    elastic_transform,
    gaussian_matrix,
    add_handwriting_styles,
    lower_resolution,
    draw_segments,
    segment_distance,
    smooth_displacement,
)

ALL_KINDS = ("affine", "elastic", "both", "thickness", "all", "affine+thickness")


def centre_of_mass(images: np.ndarray) -> np.ndarray:
    """(N, 2) centre of mass as (x, y) = (column, row) of (N, 784) images."""
    img = images.reshape(-1, 28, 28).astype(np.float64)
    mass = img.sum(axis=(1, 2))
    ys, xs = np.mgrid[0:28, 0:28]
    return np.stack([(img * xs).sum(axis=(1, 2)) / mass, (img * ys).sum(axis=(1, 2)) / mass], axis=1)


def random_digits(n: int = 20, seed: int = 0) -> np.ndarray:
    """Blobby synthetic 'digits' away from the border, (n, 784) float32 in [0, 1]."""
    rng = np.random.default_rng(seed)
    img = np.zeros((n, 28, 28), dtype=np.float32)
    img[:, 6:22, 6:22] = rng.random((n, 16, 16), dtype=np.float32)
    return img.reshape(n, 784)


def horizontal_bar() -> np.ndarray:
    """One image with a 2-pixel-high, 16-pixel-wide bar through the centre."""
    img = np.zeros((28, 28), dtype=np.float32)
    img[13:15, 6:22] = 1.0
    return img.reshape(1, 784)


@pytest.fixture(scope="module")
def digits(mnist) -> np.ndarray:
    """300 real MNIST training digits."""
    return mnist.train_images[:300]


# ---- identity parameters give back the input ------------------------------------------


def test_affine_with_zero_ranges_is_identity():
    x = random_digits()
    out = augment_batch(x, np.random.default_rng(1), kind="affine", shift=0, rotation=0, scale=0, shear=0, stretch=0)
    np.testing.assert_array_equal(out, x)


def test_elastic_with_alpha_zero_is_identity():
    x = random_digits()
    out = augment_batch(x, np.random.default_rng(1), kind="elastic", alpha=0.0)
    np.testing.assert_array_equal(out, x)


def test_both_with_zero_parameters_is_identity():
    x = random_digits()
    out = augment_batch(
        x, np.random.default_rng(1), kind="both", shift=0, rotation=0, scale=0, shear=0, stretch=0, alpha=0
    )
    np.testing.assert_array_equal(out, x)


def test_thickness_zero_is_identity():
    x = random_digits()
    np.testing.assert_array_equal(augment_batch(x, np.random.default_rng(1), kind="thickness", thickness=0), x)
    np.testing.assert_array_equal(change_thickness(x, np.zeros(len(x))), x)


def test_explicit_identity_transforms():
    x = random_digits(5)
    np.testing.assert_array_equal(affine_transform(x, np.tile(np.eye(2), (5, 1, 1)), np.zeros((5, 2))), x)
    zeros = np.zeros((5, 28, 28), dtype=np.float32)
    np.testing.assert_array_equal(elastic_transform(x, zeros, zeros), x)


# ---- geometry -------------------------------------------------------------------------


@pytest.mark.parametrize("dx, dy", [(3, 0), (0, -2), (-1, 4), (2, 2)])
def test_integer_shift_moves_centre_of_mass_exactly(dx, dy):
    x = random_digits(4)
    out = affine_transform(x, np.tile(np.eye(2), (4, 1, 1)), np.tile([dx, dy], (4, 1)))
    np.testing.assert_allclose(centre_of_mass(out) - centre_of_mass(x), np.tile([dx, dy], (4, 1)), atol=1e-6)
    # and the pixels themselves moved: +dx right, +dy down
    np.testing.assert_array_equal(
        out.reshape(4, 28, 28)[:, 6 + dy : 22 + dy, 6 + dx : 22 + dx], x.reshape(4, 28, 28)[:, 6:22, 6:22]
    )


def test_displacement_field_of_constant_integer_shift_moves_digit():
    # Reading from (x + 2, y - 1) moves the digit 2 left and 1 down.
    x = random_digits(3)
    dx = np.full((3, 28, 28), 2.0, dtype=np.float32)
    dy = np.full((3, 28, 28), -1.0, dtype=np.float32)
    out = elastic_transform(x, dx, dy)
    np.testing.assert_allclose(centre_of_mass(out) - centre_of_mass(x), np.tile([-2.0, 1.0], (3, 1)), atol=1e-6)


def test_rotation_by_90_degrees_turns_a_horizontal_bar_vertical():
    bar = horizontal_bar()
    out = affine_transform(bar, affine_matrices(np.array([90.0]), np.array([1.0]), np.array([0.0])), np.zeros((1, 2)))
    img = out.reshape(28, 28)
    expected = bar.reshape(28, 28).T  # the bar is symmetric about the centre 13.5
    np.testing.assert_allclose(img, expected, atol=1e-5)
    np.testing.assert_allclose(centre_of_mass(out), centre_of_mass(bar), atol=1e-5)


def test_positive_rotation_is_anticlockwise_on_screen():
    dot = np.zeros((1, 28, 28), dtype=np.float32)
    dot[0, 13, 23] = 1.0  # right of centre, on the centre row (x=23, y=13)
    out = affine_transform(dot, affine_matrices(np.array([90.0]), np.array([1.0]), np.array([0.0])), np.zeros((1, 2)))
    # a quarter turn anticlockwise moves "right of centre" to "above centre" (smaller row)
    x, y = centre_of_mass(out.reshape(1, 784))[0]
    assert y < 13.5 - 8 and abs(x - 13.5) < 1


def test_scale_enlarges_the_bar_about_the_centre():
    bar = horizontal_bar()
    out = affine_transform(bar, affine_matrices(np.array([0.0]), np.array([1.25]), np.array([0.0])), np.zeros((1, 2)))
    columns_with_ink = np.flatnonzero(out.reshape(28, 28).max(axis=0) > 0.5)
    assert columns_with_ink.size == 20  # 16 px * 1.25
    np.testing.assert_allclose(centre_of_mass(out), centre_of_mass(bar), atol=1e-5)


def test_shear_slants_a_vertical_bar():
    img = np.zeros((1, 28, 28), dtype=np.float32)
    img[0, 4:24, 13:15] = 1.0
    out = affine_transform(img, affine_matrices(np.array([0.0]), np.array([1.0]), np.array([0.5])), np.zeros((1, 2)))
    top, bottom = out[0, 5], out[0, 22]
    centre_x = lambda row: (row * np.arange(28)).sum() / row.sum()  # noqa: E731
    # x moves by 0.5 * (y - 13.5): top row left of centre, bottom row right
    assert centre_x(top) == pytest.approx(13.5 + 0.5 * (5 - 13.5), abs=0.05)
    assert centre_x(bottom) == pytest.approx(13.5 + 0.5 * (22 - 13.5), abs=0.05)


def test_bilinear_sampling_interpolates_and_pads_with_zero():
    img = np.zeros((1, 28, 28), dtype=np.float32)
    img[0, 10, 10] = 1.0
    img[0, 10, 11] = 0.5
    sy = np.array([[10.0, 10.0, 10.25, -5.0, 40.0, 0.0]], dtype=np.float32)
    sx = np.array([[10.5, 10.25, 10.0, 3.0, 3.0, -0.5]], dtype=np.float32)
    full_y = np.zeros((1, 784), dtype=np.float32)
    full_x = np.zeros((1, 784), dtype=np.float32)
    full_y[0, :6], full_x[0, :6] = sy, sx
    out = bilinear_sample(img, full_y, full_x).reshape(-1)[:6]
    np.testing.assert_allclose(out, [0.75, 0.875, 0.75, 0.0, 0.0, 0.0], atol=1e-6)


# ---- elastic smoothing ------------------------------------------------------------------


def test_gaussian_matrix_rows_sum_to_one_and_sigma_zero_is_identity():
    g = gaussian_matrix(4.0)
    assert g.shape == (28, 28) and g.dtype == np.float32
    np.testing.assert_allclose(g.sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(g[14, 14 - 5 : 14 + 6], g[14, 14 - 5 : 14 + 6][::-1], atol=1e-7)  # symmetric
    np.testing.assert_array_equal(gaussian_matrix(0.0), np.eye(28, dtype=np.float32))


def test_smooth_displacement_matches_direct_separable_convolution():
    rng = np.random.default_rng(3)
    noise = rng.uniform(-1, 1, (3, 28, 28)).astype(np.float32)
    g = gaussian_matrix(2.0).astype(np.float64)
    expected = np.stack([g @ f @ g.T for f in noise.astype(np.float64)])
    np.testing.assert_allclose(smooth_displacement(noise, 2.0), expected, atol=1e-5)
    # a constant field stays constant (reflecting borders)
    np.testing.assert_allclose(smooth_displacement(np.ones((1, 28, 28)), 4.0), 1.0, atol=1e-5)


def test_elastic_displacements_have_the_expected_size():
    # U(-1,1) has std 1/sqrt(3); a 2-D Gaussian blur of std sigma divides the std of
    # white noise by about 2 sqrt(pi) sigma, so alpha=34, sigma=4 moves interior
    # pixels by about 34 / sqrt(3) / (2 sqrt(pi) 4) = 1.38 px (std per axis).
    rng = np.random.default_rng(4)
    field = 34.0 * smooth_displacement(rng.uniform(-1, 1, (400, 28, 28)).astype(np.float32), 4.0)
    assert field[:, 8:20, 8:20].std() == pytest.approx(34 / np.sqrt(3) / (2 * np.sqrt(np.pi) * 4), rel=0.1)


# ---- output contract --------------------------------------------------------------------


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_output_shape_dtype_range_and_input_untouched(kind):
    x = random_digits(30)
    before = x.copy()
    out = augment_batch(x, np.random.default_rng(0), kind=kind)
    assert out.shape == (30, 784) and out.dtype == np.float32 and out.flags.c_contiguous
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert not np.shares_memory(out, x)
    np.testing.assert_array_equal(x, before)
    assert not np.array_equal(out, x)


def test_accepts_other_dtypes_and_28x28_shape():
    x = random_digits(6)
    out64 = augment_batch(x.astype(np.float64), np.random.default_rng(0))
    out32 = augment_batch(x, np.random.default_rng(0))
    assert out64.dtype == np.float32
    np.testing.assert_array_equal(out64, out32)
    out3d = augment_batch(x.reshape(6, 28, 28), np.random.default_rng(0))
    assert out3d.shape == (6, 28, 28)
    np.testing.assert_array_equal(out3d.reshape(6, 784), out32)


def test_empty_batch():
    out = augment_batch(np.zeros((0, 784), dtype=np.float32), np.random.default_rng(0), kind="all")
    assert out.shape == (0, 784) and out.dtype == np.float32


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_same_seed_same_output_other_seed_different(kind):
    x = random_digits(25)
    a = augment_batch(x, np.random.default_rng(42), kind=kind)
    b = augment_batch(x, np.random.default_rng(42), kind=kind)
    c = augment_batch(x, np.random.default_rng(43), kind=kind)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("kind", ["affine", "elastic", "all"])
def test_result_does_not_depend_on_chunk_size(kind):
    x = random_digits(23)
    a = augment_batch(x, np.random.default_rng(5), kind=kind)
    b = augment_batch(x, np.random.default_rng(5), kind=kind, chunk_size=7)
    np.testing.assert_allclose(a, b, atol=1e-5)  # BLAS rounding differs with matrix size


def test_each_image_gets_its_own_distortion():
    x = np.repeat(random_digits(1), 10, axis=0)
    out = augment_batch(x, np.random.default_rng(0), kind="both")
    assert len({o.tobytes() for o in out}) == 10


def test_bad_arguments_raise_value_error():
    x = random_digits(2)
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="kind"):
        augment_batch(x, rng, kind="warp")
    with pytest.raises(ValueError, match="alpha"):
        augment_batch(x, rng, kind="affine", alpha=3.0)  # elastic parameter on an affine kind
    with pytest.raises(ValueError, match="shape"):
        augment_batch(np.zeros((2, 100), dtype=np.float32), rng)
    with pytest.raises(ValueError, match="scale"):
        augment_batch(x, rng, scale=1.5)
    with pytest.raises(ValueError, match="sigma"):
        augment_batch(x, rng, kind="elastic", sigma=-1)


def test_defaults_are_documented_and_read_only():
    assert set(DEFAULTS) == {
        "shift", "rotation", "scale", "shear", "stretch", "alpha", "sigma", "thickness",
        "style_probability", "foot_probability", "closed_four_probability", "short_stem_probability",
        "lowres_probability", "lowres_block", "binary_probability", "synth_probability", "synth_pool",
        "optdigits_probability", "redraw_probability",
    }
    assert DEFAULTS["alpha"] == 34.0 and DEFAULTS["sigma"] == 4.0
    with pytest.raises(TypeError):
        DEFAULTS["alpha"] = 1.0  # type: ignore[index]
    assert augment.KINDS["both"] == ("affine", "elastic")


# ---- stroke thickness -------------------------------------------------------------------


def test_thickness_dilates_and_erodes_a_bar():
    bar = horizontal_bar()
    thick = change_thickness(bar, np.array([1.0])).reshape(28, 28)
    assert (thick > 0.5).sum() == 4 * 16 + 2 * 2  # 2x16 bar grown by one pixel each way (no corners)
    thin = change_thickness(bar, np.array([-1.0])).reshape(28, 28)
    assert thin.max() == 0.0  # every pixel of a 2-pixel bar touches background above or below
    wide = np.zeros((28, 28), dtype=np.float32)
    wide[10:15, 6:22] = 1.0  # 5 px high -> 3 px high, 16 -> 14 wide
    assert (change_thickness(wide.reshape(1, 784), np.array([-1.0])) > 0.5).sum() == 3 * 14
    half = change_thickness(bar, np.array([0.5])).reshape(28, 28)
    np.testing.assert_allclose(half[12, 6:22], 0.5)  # the row above the bar is half-inked


# ---- real digits ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["affine", "elastic", "both"])
def test_ink_mass_roughly_preserved_on_real_digits(digits, kind):
    out = augment_batch(digits, np.random.default_rng(0), kind=kind)
    ratio = out.sum(axis=1) / digits.sum(axis=1)
    assert abs(ratio.mean() - 1.0) < 0.06  # area-preserving on average (scale is symmetric)
    # single digits can gain or lose ink (zoom, width stretch, local stretching), but no more
    # than the area factors the defaults allow: (1 -+ scale)^2 * exp(-+stretch) = 0.53 .. 1.78
    low = (1 - DEFAULTS["scale"]) ** 2 * np.exp(-DEFAULTS["stretch"])
    high = (1 + DEFAULTS["scale"]) ** 2 * np.exp(DEFAULTS["stretch"])
    assert np.percentile(ratio, 5) > low and np.percentile(ratio, 95) < high
    # the digit stays near the centre: shifts are at most 2 px, rotation/scale about the centre
    moved = np.linalg.norm(centre_of_mass(out) - centre_of_mass(digits), axis=1)
    assert np.median(moved) < 2.5


def test_thickness_changes_ink_mass_in_the_right_direction(digits):
    thicker = change_thickness(digits, np.full(len(digits), 0.5))
    thinner = change_thickness(digits, np.full(len(digits), -0.5))
    assert (thicker.sum(axis=1) > digits.sum(axis=1)).all()
    assert (thinner.sum(axis=1) < digits.sum(axis=1)).all()
    out = augment_batch(digits, np.random.default_rng(0), kind="thickness")
    assert abs(out.sum() / digits.sum() - 1.0) < 0.05  # dilation and erosion balance out


# ---- handwriting styles: crossed 7s, flagged 1s -----------------------------------------


def synthetic_seven() -> np.ndarray:
    """A 7: top bar on rows 4-5 (columns 8-20), vertical stem on columns 17-18, rows 4-23."""
    img = np.zeros((28, 28), dtype=np.float32)
    img[4:6, 8:21] = 1.0
    img[4:24, 17:19] = 1.0
    return img.reshape(784)


def synthetic_one() -> np.ndarray:
    """A 1: vertical stroke on columns 14-15, rows 4-23."""
    img = np.zeros((28, 28), dtype=np.float32)
    img[4:24, 14:16] = 1.0
    return img.reshape(784)


def test_segment_distance_and_drawing():
    d = segment_distance(np.array([5.0]), np.array([10.0]), np.array([15.0]), np.array([10.0]))
    d = d.reshape(28, 28)
    assert d[10, 5] == 0 and d[10, 15] == 0 and d[10, 10] == 0
    assert d[13, 10] == pytest.approx(3.0) and d[10, 2] == pytest.approx(3.0)  # beyond the end
    assert d[14, 18] == pytest.approx(5.0)  # distance to the end point (15, 10): 3-4-5
    img = np.zeros((2, 784), dtype=np.float32)
    draw_segments(img, np.array([1]), [5.0], [10.0], [15.0], [10.0], [2.0])
    assert img[0].max() == 0  # only image 1 is drawn on
    row = img[1].reshape(28, 28)
    np.testing.assert_allclose(row[10, 5:16], 1.0)  # the pen's centre line is full ink
    np.testing.assert_allclose(row[[9, 11], 8], 0.5)  # the pen's edge (d = width / 2): half ink
    # ink = clip((width/2 - d) / 1.5 + 1/2, 0, 1): a 3-px pen is grey 1/6 at d = 2
    wide = np.zeros((1, 784), dtype=np.float32)
    draw_segments(wide, np.array([0]), [5.0], [10.0], [15.0], [10.0], [3.0])
    np.testing.assert_allclose(wide.reshape(28, 28)[[8, 12], 8], 1 / 6, rtol=1e-5)
    assert row[:8].max() == 0 and row[13:].max() == 0
    assert row.sum() == pytest.approx(2.0 * 10 + np.pi, rel=0.05)  # width x length + two round half-caps


def test_crossbar_goes_through_the_stem_of_sevens_only():
    x = np.stack([synthetic_seven(), synthetic_one(), synthetic_seven(), synthetic_one()])
    labels = np.array([7, 3, 7, 0])  # the 1-shaped images are labelled 3 and 0: left alone
    out = add_handwriting_styles(x, labels, np.random.default_rng(0), probability=1.0)
    np.testing.assert_array_equal(out[[1, 3]], x[[1, 3]])
    for k in (0, 2):
        added = (out[k] - x[k]).reshape(28, 28)
        ys, xs = np.nonzero(added > 0.05)
        assert ys.size > 10
        # the digit spans rows 4-23, middle 13.5; the bar is within a few px of it
        assert 10 <= ys.min() and ys.max() <= 18
        assert np.average(ys, weights=added[ys, xs]) == pytest.approx(14, abs=1.8)
        # it crosses the stem (columns 17-18): ink on both sides of it
        assert xs.min() <= 15 and xs.max() >= 20
        assert 8 <= xs.max() - xs.min() + 1 <= 14  # 7-11 px long plus the pen's round ends
        assert (out[k] >= x[k]).all()  # ink is only added


def test_flag_goes_up_left_from_the_top_of_ones():
    x = np.stack([synthetic_one()] * 6)
    labels = np.full(6, 1)
    out = add_handwriting_styles(x, labels, np.random.default_rng(3), probability=1.0, foot_probability=0.0)
    for k in range(6):
        added = (out[k] - x[k]).reshape(28, 28)
        ys, xs = np.nonzero(added > 0.05)
        assert ys.size > 5
        assert ys.min() >= 4 and ys.max() <= 4 + 1 + 14 * 0.71 + 1  # from the top (row 4) down, <= 14 px at <= 45 degrees
        assert xs.min() <= 14 - 5  # reaches at least 5 px left of the stroke (columns 14-15)
        assert xs.max() <= 17  # nothing to the right beyond the pen's round cap
        upper = added[:17].sum()
        assert upper > 0.8 * added.sum()  # in the upper two thirds of the 1: a flag, not a foot
        left_top = added[4:18, :14].sum()
        assert left_top > 0.8 * added.sum()  # down-left of the top


def test_feet_are_horizontal_strokes_at_the_bottom():
    x = np.stack([synthetic_one()] * 4)
    out = add_handwriting_styles(x, np.ones(4, int), np.random.default_rng(0), probability=1.0, foot_probability=1.0)
    flag_only = add_handwriting_styles(
        x, np.ones(4, int), np.random.default_rng(0), probability=1.0, foot_probability=0.0
    )
    for k in range(4):
        foot = (out[k] - flag_only[k]).reshape(28, 28)
        ys, xs = np.nonzero(foot > 0.05)
        assert ys.size > 5
        assert ys.min() >= 20 and ys.max() <= 24  # at the bottom (row 23)
        assert xs.min() < 14 and xs.max() > 15  # on both sides of the stroke


def test_style_probability_zero_is_identity_and_one_changes_every_seven_and_one(digits, mnist):
    labels = mnist.train_labels[:300]
    same = add_handwriting_styles(digits, labels, np.random.default_rng(0), probability=0.0,
                                  closed_four_probability=0.0)
    np.testing.assert_array_equal(same, digits)
    out = add_handwriting_styles(digits, labels, np.random.default_rng(0), probability=1.0,
                                 closed_four_probability=0.0)
    changed = (out != digits).any(axis=1)
    targeted = (labels == 7) | (labels == 1)
    assert targeted.sum() > 40
    assert changed[targeted].all()
    assert not changed[~targeted].any()
    # default: about half of them (binomial, n ~ 60)
    half = add_handwriting_styles(digits, labels, np.random.default_rng(0), closed_four_probability=0.0)
    frac = (half != digits).any(axis=1)[targeted].mean()
    assert 0.3 < frac < 0.7


def test_styles_on_real_sevens_add_ink_near_mid_height(digits, mnist):
    labels = mnist.train_labels[:300]
    sevens = labels == 7
    out = add_handwriting_styles(digits, labels, np.random.default_rng(1), probability=1.0)
    img = digits[sevens].reshape(-1, 28, 28)
    added = (out[sevens] - digits[sevens]).reshape(-1, 28, 28)
    rows = np.arange(28)
    for before, extra in zip(img, added):
        ink_rows = rows[(before >= 0.3).any(axis=1)]
        middle = (ink_rows[0] + ink_rows[-1]) / 2
        weight = extra.sum(axis=1)
        assert abs((weight * rows).sum() / weight.sum() - middle) < 3.5


def test_styles_deterministic_dtype_range_and_input_untouched(digits, mnist):
    labels = mnist.train_labels[:300]
    x = digits.copy()
    a = add_handwriting_styles(x, labels, np.random.default_rng(5), probability=1.0)
    b = add_handwriting_styles(x, labels, np.random.default_rng(5), probability=1.0)
    c = add_handwriting_styles(x, labels, np.random.default_rng(6), probability=1.0)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    np.testing.assert_array_equal(x, digits)
    assert a.dtype == np.float32 and a.shape == x.shape
    assert a.min() >= 0.0 and a.max() <= 1.0
    x28 = x.reshape(-1, 28, 28).astype(np.float64)
    as28 = add_handwriting_styles(x28, labels, np.random.default_rng(5), probability=1.0)
    assert as28.shape == (300, 28, 28) and as28.dtype == np.float32
    np.testing.assert_allclose(as28.reshape(300, 784), a, atol=1e-6)


def test_styles_bad_arguments():
    x = random_digits(3)
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="label"):
        add_handwriting_styles(x, np.array([1, 7]), rng)
    with pytest.raises(ValueError, match="style_probability"):
        add_handwriting_styles(x, np.array([1, 7, 7]), rng, probability=1.5)
    with pytest.raises(ValueError, match="labels"):
        augment_batch(x, rng, kind="styles")
    with pytest.raises(ValueError, match="labels"):
        augment_batch(x, rng, kind="all+styles")
    with pytest.raises(ValueError, match="kind"):
        augment_batch(x, rng, kind="all+affine")  # affine twice


def test_augment_batch_styles_kinds(digits, mnist):
    labels = mnist.train_labels[:300]
    only = augment_batch(digits, np.random.default_rng(2), kind="styles", labels=labels, style_probability=1.0)
    direct = add_handwriting_styles(digits, labels, np.random.default_rng(2), probability=1.0)
    np.testing.assert_array_equal(only, direct)
    both = augment_batch(digits, np.random.default_rng(2), kind="all+styles", labels=labels)
    again = augment_batch(digits, np.random.default_rng(2), kind="styles+all", labels=labels)
    np.testing.assert_array_equal(both, again)  # styles always come first
    assert both.dtype == np.float32 and 0 <= both.min() and both.max() <= 1
    # labels are ignored by the other kinds: same result with or without them
    np.testing.assert_array_equal(
        augment_batch(digits, np.random.default_rng(2), kind="all", labels=labels),
        augment_batch(digits, np.random.default_rng(2), kind="all"),
    )
    with pytest.raises(ValueError, match="foot_probability"):
        augment_batch(digits, np.random.default_rng(2), kind="all", foot_probability=0.5)


def test_stretch_changes_width_only():
    """A vertical bar 2 px wide and 16 px tall: stretch 1.5 widens it, its height stays."""
    bar = np.zeros((1, 28, 28), np.float32)
    bar[0, 6:22, 12:16] = 1.0
    wide = affine_transform(bar, affine_matrices(np.zeros(1), np.ones(1), np.zeros(1), np.full(1, 1.5)),
                            np.zeros((1, 2)))
    cols = np.flatnonzero(wide[0].max(axis=0) > 0.5)
    rows = np.flatnonzero(wide[0].max(axis=1) > 0.5)
    assert len(cols) == 6 and len(rows) == 16


# ---- closed-top 4s -------------------------------------------------------------------------


def synthetic_four() -> np.ndarray:
    """An open 4: left arm on columns 8-9 (rows 4-15), crossbar on rows 14-15 (columns 8-21),
    stem on columns 17-18 (rows 6-23, its top 2 px below the arm's)."""
    img = np.zeros((28, 28), dtype=np.float32)
    img[4:16, 8:10] = 1.0
    img[14:16, 8:22] = 1.0
    img[6:24, 17:19] = 1.0
    return img.reshape(784)


def test_closed_four_joins_the_top_of_the_arm_to_the_top_of_the_stem():
    x = np.stack([synthetic_four()] * 5)
    out = add_handwriting_styles(x, np.full(5, 4), np.random.default_rng(4), probability=0.0,
                                 closed_four_probability=1.0)
    for k in range(5):
        added = (out[k] - x[k]).reshape(28, 28)
        ys, xs = np.nonzero(added > 0.05)
        assert ys.size > 8
        assert (out[k] >= x[k]).all()  # ink is only added
        # from the arm's top (row 4, columns 8-9) to the stem's top (row 6, columns 17-18)
        assert ys.min() >= 3 and ys.max() <= 9  # along the top, nowhere near the crossbar (row 14)
        assert xs.min() <= 10 and xs.max() >= 16  # spans the gap between arm and stem
        gap = out[k].reshape(28, 28)[4:9, 11:16]
        assert (gap.max(axis=0) > 0.5).all()  # every column of the gap is crossed: the top is closed
        # at the digit's own pen width: the stem's 2 px, so ~2 px of ink per column in the gap
        np.testing.assert_allclose(added[:, 12:15].sum(axis=0), 2.0, atol=0.5)


def test_closed_four_only_changes_fours_and_leaves_closed_ones_alone():
    four, seven, one = synthetic_four(), synthetic_seven(), synthetic_one()
    closed = four.reshape(28, 28).copy()
    closed[4:6, 8:19] = 1.0  # already closed: no empty column at the top
    short_bar = four.reshape(28, 28).copy()
    short_bar[14:16, 19:22] = 0.0  # the bar stops at the stem: closed, this would be a 9
    x = np.stack([four, four, seven, one, closed.reshape(784), short_bar.reshape(784)])
    labels = np.array([4, 9, 7, 1, 4, 4])  # the second 4-shape is labelled 9: left alone
    out = add_handwriting_styles(x, labels, np.random.default_rng(0), probability=0.0,
                                 closed_four_probability=1.0)
    assert (out[0] != x[0]).any()
    np.testing.assert_array_equal(out[1:], x[1:])


def test_closed_four_probability_on_real_digits_and_zero_keeps_old_streams(digits, mnist):
    labels = mnist.train_labels[:300]
    fours = labels == 4
    assert fours.sum() > 20
    out = add_handwriting_styles(digits, labels, np.random.default_rng(0), probability=0.0,
                                 closed_four_probability=1.0)
    changed = (out != digits).any(axis=1)
    assert not changed[~fours].any()
    assert 0.2 < changed[fours].mean() < 0.8  # open at the top, with a bar reaching past the stem
    # the added ink sits in the top half of each 4
    added = (out - digits).reshape(-1, 28, 28)[fours & changed]
    for before, extra in zip(digits.reshape(-1, 28, 28)[fours & changed], added):
        rows = np.flatnonzero((before >= 0.3).any(axis=1))
        weight = extra.sum(axis=1)
        assert (weight * np.arange(28)).sum() / weight.sum() < (rows[0] + rows[-1]) / 2
    # probability 0 draws nothing for 4s: the 7s and 1s come out as with the generator alone
    rng_a, rng_b = np.random.default_rng(7), np.random.default_rng(7)
    none = add_handwriting_styles(digits, labels, rng_a, probability=1.0, closed_four_probability=0.0)
    some = add_handwriting_styles(digits, labels, rng_b, probability=1.0, closed_four_probability=1.0)
    np.testing.assert_array_equal(none[~fours], some[~fours])
    assert rng_a.random() != rng_b.random()  # a probability > 0 draws three more numbers per image
    # deterministic
    again = add_handwriting_styles(digits, labels, np.random.default_rng(0), probability=0.0,
                                   closed_four_probability=1.0)
    np.testing.assert_array_equal(out, again)
    with pytest.raises(ValueError, match="closed_four_probability"):
        add_handwriting_styles(digits, labels, np.random.default_rng(0), closed_four_probability=-0.1)


# ---- a low-resolution source ------------------------------------------------------------


def test_coarse_grid_of_block_one_is_the_identity():
    down, up = coarse_grid_matrices(np.array([1.0]), np.array([0.0]))
    np.testing.assert_allclose(down[0], np.eye(28), atol=1e-6)
    np.testing.assert_allclose(up[0], np.eye(28), atol=1e-6)
    x = random_digits(1)
    np.testing.assert_allclose(lower_resolution(x, [1.0], [0.0], [np.nan]), x / x.max(), atol=1e-5)


def test_coarse_grid_averages_areas_and_enlarges_back_to_the_same_place():
    down, up = coarse_grid_matrices(np.array([2.0, 1.5]), np.array([0.0, 0.7]))
    # every fine pixel is shared out completely among the coarse pixels that cover it
    np.testing.assert_allclose(down.sum(axis=1) * np.array([2.0, 1.5])[:, None], 1.0, atol=1e-6)
    assert down[0, 3, 6] == 0.5 and down[0, 3, 7] == 0.5 and down[0, 3, 8] == 0.0
    # a coarse pixel centre lands back where it came from: fine pixels 6 and 7 (centre 7.0) read
    # half of coarse pixel 3 each ... and a constant coarse field enlarges to a constant inside
    assert up[0, 6, 3] == pytest.approx(0.75) and up[0, 7, 3] == pytest.approx(0.75)
    np.testing.assert_allclose(up[1, 3:20].sum(axis=1), 1.0, atol=1e-6)
    with pytest.raises(ValueError):
        coarse_grid_matrices(np.array([0.5]), np.array([0.0]))


def test_binarised_bar_keeps_its_place_and_gets_whole_coarse_pixels():
    bar = np.zeros((28, 28), dtype=np.float32)
    bar[12:16, 6:22] = 0.8  # 4 px high, faint
    out = lower_resolution(bar.reshape(1, 784), [2.0], [0.0], [0.5]).reshape(28, 28)
    assert out.max() == 1.0  # binarised: full ink, as a scan would give
    rows = np.flatnonzero(out[:, 14] > 0.5)
    assert rows.min() >= 11 and rows.max() <= 16  # still where the bar was
    grey = lower_resolution(bar.reshape(1, 784), [2.0], [0.0], [np.nan]).reshape(28, 28)
    assert grey.max() == pytest.approx(1.0)  # grey source: peak back to 1 like center_digit
    empty = lower_resolution(bar.reshape(1, 784) * 0.1, [2.0], [0.0], [0.5])
    np.testing.assert_array_equal(empty, bar.reshape(1, 784) * 0.1)  # nothing left: unchanged


def test_lowres_kind_changes_about_its_share_of_real_digits(digits):
    rng = np.random.default_rng(3)
    out = augment_batch(digits, rng, kind="lowres", lowres_probability=0.5)
    changed = np.abs(out - digits).max(axis=1) > 1e-3
    assert 0.35 < changed.mean() < 0.65
    assert out.dtype == np.float32 and out.min() >= 0 and out.max() <= 1
    mass_ratio = out[changed].sum(axis=1) / digits[changed].sum(axis=1)
    assert 0.6 < np.median(mass_ratio) < 1.6  # still the same digit's ink, thicker or thinner
    again = augment_batch(digits, np.random.default_rng(3), kind="lowres", lowres_probability=0.5)
    np.testing.assert_array_equal(out, again)
    none = augment_batch(digits, np.random.default_rng(3), kind="lowres", lowres_probability=0.0)
    np.testing.assert_array_equal(none, digits)
    with pytest.raises(ValueError, match="lowres_block"):
        augment_batch(digits, rng, kind="lowres", lowres_block=0.9)


def test_short_stem_four_erases_the_stem_above_the_bar_only():
    x = np.stack([synthetic_four()] * 5)
    labels = np.array([4, 4, 4, 4, 9])
    out = add_handwriting_styles(x, labels, np.random.default_rng(5), probability=0.0,
                                 closed_four_probability=0.0, short_stem_probability=1.0)
    np.testing.assert_array_equal(out[4], x[4])  # a 9 is left alone
    for k in range(4):
        before, after = x[k].reshape(28, 28), out[k].reshape(28, 28)
        assert (after <= before).all()  # ink is only taken away
        removed = np.nonzero(before - after > 0)
        assert removed[0].size > 0 and removed[0].max() < 14  # above the crossbar (rows 14-15)
        assert removed[1].min() >= 11  # right of the gap: the stem, never the left arm
        np.testing.assert_array_equal(after[:, :11], before[:, :11])  # the arm untouched
        np.testing.assert_array_equal(after[14:], before[14:])  # bar and lower stem untouched
        assert after[4:9, 17:19].max() == 0  # but no longer reaches the top


def test_short_stem_four_skips_closed_fours_and_zero_draws_nothing(digits, mnist):
    four = synthetic_four().reshape(28, 28).copy()
    four[4:6, 8:19] = 1.0  # closed top: no gap, nothing to shorten
    out = add_handwriting_styles(four.reshape(1, 784), np.array([4]), np.random.default_rng(0),
                                 probability=0.0, closed_four_probability=0.0, short_stem_probability=1.0)
    np.testing.assert_array_equal(out[0], four.reshape(784))
    labels = mnist.train_labels[:300]
    a = add_handwriting_styles(digits, labels, np.random.default_rng(1), short_stem_probability=0.0)
    b = add_handwriting_styles(digits, labels, np.random.default_rng(1))
    np.testing.assert_array_equal(a, b)  # the default draws no numbers for it
    c = add_handwriting_styles(digits, labels, np.random.default_rng(1), short_stem_probability=1.0,
                               closed_four_probability=0.0)
    changed = (c != digits).any(axis=1) & (labels == 4)
    assert changed.sum() > 0.5 * (labels == 4).sum()


# ---- synthetic written digits (synth) ---------------------------------------------------


def test_written_forms_cover_every_digit_with_the_strokes_forms_and_more():
    from mnist_app.strokes import DIGIT_FORMS
    from mnist_app.written_forms import FORMS

    assert sorted(FORMS) == list(range(10))
    for digit in range(10):
        forms = FORMS[digit]
        assert forms[: len(DIGIT_FORMS[str(digit)])] == DIGIT_FORMS[str(digit)]
        assert len(forms) >= 3
    # The kinds MNIST lacks get the most forms: 4s, 7s, 9s.
    assert min(len(FORMS[d]) for d in (4, 7, 9)) > max(len(FORMS[d]) for d in (0, 2, 3, 5, 6, 8))


def test_synth_pool_digits_are_in_mnist_format(mnist):
    """Every pool drawing looks like an MNIST digit: ink peak 1 on black, the longer side of its
    ink box about 20 px, its centre of mass at the field's centre, about as much ink as MNIST's
    digits of the same label."""
    from mnist_app.written_forms import synth_pool

    pool = synth_pool(12, seed=3)
    assert pool.shape == (10, 12, 784) and pool.dtype == np.float32
    assert not pool.flags.writeable and synth_pool(12, seed=3) is pool  # rendered once, shared
    flat = pool.reshape(-1, 784)
    assert flat.min() >= 0 and np.allclose(flat.max(axis=1), 1.0)
    height, width = ink_box_sides(flat)
    assert np.all(np.maximum(height, width) >= 17) and np.all(np.maximum(height, width) <= 22)
    np.testing.assert_allclose(centre_of_mass(flat), 13.5, atol=0.51)  # whole-pixel centring
    for digit in range(10):
        mnist_ink = mnist.train_images[:2000][mnist.train_labels[:2000] == digit].sum(axis=1).mean()
        assert 0.6 < pool[digit].sum(axis=1).mean() / mnist_ink < 1.6, digit
    # The same seed draws the same pool; another seed another.
    synth_pool.cache_clear()
    np.testing.assert_array_equal(synth_pool(12, seed=3), pool)
    assert not np.array_equal(synth_pool(12, seed=4), pool)


def test_shipped_model_reads_the_ordinary_written_forms():
    """The pool's ordinary forms (mnist_app.strokes.DIGIT_FORMS, used in turn with the rest) are
    digits a model trained on MNIST reads: a check that the rendering is MNIST's format."""
    from mnist_app.models import load
    from mnist_app.strokes import DIGIT_FORMS
    from mnist_app.written_forms import FORMS, synth_pool

    network = load("shipped")
    network = network[0] if isinstance(network, tuple) else network
    pool = synth_pool(40, seed=5)
    right = total = 0
    for digit in range(10):
        ordinary = [k for k in range(40) if k % len(FORMS[digit]) < len(DIGIT_FORMS[str(digit)])]
        answers = network.feedforward(pool[digit, ordinary]).argmax(axis=1)
        right += int(np.count_nonzero(answers == digit))
        total += len(ordinary)
    assert right / total > 0.9


def _assert_swaps_in_digits_of_their_label(swap, pool, digits, labels):
    """``swap(images, labels, rng, probability)`` replaces a share ``probability`` of the digits,
    each by a digit of ``pool[its label]``, leaves the rest as they are, and depends only on the
    generator's state."""
    kept = swap(digits, labels, np.random.default_rng(0), 0.0)
    np.testing.assert_array_equal(kept, digits)
    every = swap(digits, labels, np.random.default_rng(0), 1.0)
    some = swap(digits, labels, np.random.default_rng(0), 0.3)
    assert every.dtype == np.float32 and every.shape == digits.shape
    for out in (every, some):
        changed = np.flatnonzero(np.any(out != digits, axis=1))
        for i in changed:  # every swapped digit is a pool digit of its own label
            assert np.any(np.all(pool[labels[i]] == out[i], axis=1))
        unchanged = np.setdiff1d(np.arange(len(digits)), changed)
        np.testing.assert_array_equal(out[unchanged], digits[unchanged])
    assert np.all(np.any(every != digits, axis=1))
    share = np.mean(np.any(some != digits, axis=1))
    assert 0.22 < share < 0.38  # 0.3 +- 3 standard errors of 300 draws
    np.testing.assert_array_equal(swap(digits, labels, np.random.default_rng(0), 0.3), some)
    assert not np.array_equal(swap(digits, labels, np.random.default_rng(1), 0.3), some)


def test_swap_in_written_digits_keeps_labels_and_its_share(digits, mnist):
    from mnist_app.augment import swap_in_written_digits
    from mnist_app.written_forms import synth_pool

    labels = mnist.train_labels[:300]
    _assert_swaps_in_digits_of_their_label(
        lambda x, y, rng, p: swap_in_written_digits(x, y, rng, probability=p, pool_size=10), synth_pool(10),
        digits, labels)
    assert not np.array_equal(synth_pool(10), synth_pool(10, seed=7))  # a seed of its own draws another pool


def test_swap_in_optdigits_keeps_labels_and_its_share(digits, mnist):
    from mnist_app.augment import swap_in_optdigits
    from mnist_app.optdigits import optdigits_pool

    _assert_swaps_in_digits_of_their_label(swap_in_optdigits, optdigits_pool(), digits, mnist.train_labels[:300])


def test_optdigits_kind_in_augment_batch(digits, mnist):
    from mnist_app.augment import swap_in_optdigits

    labels = mnist.train_labels[:300]
    only = augment_batch(digits, np.random.default_rng(3), kind="optdigits", labels=labels, optdigits_probability=0.5)
    np.testing.assert_array_equal(only, swap_in_optdigits(digits, labels, np.random.default_rng(3), 0.5))
    full = "affine+elastic+styles+lowres+synth+optdigits"
    a = augment_batch(digits, np.random.default_rng(3), kind=full, labels=labels, synth_pool=10)
    b = augment_batch(digits, np.random.default_rng(3), kind="optdigits+synth+affine+elastic+styles+lowres",
                      labels=labels, synth_pool=10)
    np.testing.assert_array_equal(a, b)  # styles, synth, then optdigits, always first: warped with the rest
    assert a.shape == digits.shape and a.dtype == np.float32 and 0 <= a.min() and a.max() <= 1
    with pytest.raises(ValueError, match="labels"):
        augment_batch(digits, np.random.default_rng(3), kind="optdigits")
    with pytest.raises(ValueError, match="optdigits_probability"):
        augment_batch(digits, np.random.default_rng(3), kind="optdigits", labels=labels, optdigits_probability=-0.1)


def test_synth_kind_in_augment_batch(digits, mnist):
    from mnist_app.augment import swap_in_written_digits

    labels = mnist.train_labels[:300]
    only = augment_batch(digits, np.random.default_rng(3), kind="synth", labels=labels, synth_probability=0.5,
                         synth_pool=10)
    direct = swap_in_written_digits(digits, labels, np.random.default_rng(3), 0.5, 10)
    np.testing.assert_array_equal(only, direct)
    full = "affine+elastic+styles+lowres+synth"
    a = augment_batch(digits, np.random.default_rng(3), kind=full, labels=labels, synth_pool=10)
    b = augment_batch(digits, np.random.default_rng(3), kind="synth+affine+elastic+styles+lowres", labels=labels,
                      synth_pool=10)
    np.testing.assert_array_equal(a, b)  # styles, then synth, always first: warped with the rest
    assert a.shape == digits.shape and a.dtype == np.float32 and 0 <= a.min() and a.max() <= 1
    with pytest.raises(ValueError, match="labels"):
        augment_batch(digits, np.random.default_rng(3), kind="synth")
    with pytest.raises(ValueError, match="synth_probability"):
        augment_batch(digits, np.random.default_rng(3), kind="synth", labels=labels, synth_probability=1.5)
    with pytest.raises(ValueError, match="synth_pool"):
        augment_batch(digits, np.random.default_rng(3), kind="synth", labels=labels, synth_pool=0)
    with pytest.raises(ValueError, match="0-9"):
        augment_batch(digits[:2], np.random.default_rng(3), kind="synth", labels=np.array([3, 12]))


# ---- redrawn with a pen (mnist_app.redraw) ------------------------------------------------


def test_thinning_leaves_a_one_pixel_path_that_keeps_ends_and_loops():
    from scipy import ndimage

    from mnist_app.redraw import thin

    masks = np.zeros((2, 40, 40), dtype=bool)
    masks[0, 17:24, 5:35] = True  # a bar 7 px thick, 30 long
    yy, xx = np.mgrid[0:40, 0:40]
    r = np.hypot(yy - 20, xx - 20)
    masks[1] = (r >= 9) & (r <= 14)  # a ring 6 px thick
    paths = thin(masks)
    bar, ring = paths
    assert (paths <= masks).all()  # thinning only removes ink
    assert bar.sum(axis=0).max() == 1  # one pixel across the bar, everywhere along it
    columns = np.flatnonzero(bar.any(axis=0))
    assert columns[0] <= 9 and columns[-1] >= 30  # still reaches (nearly) both ends
    assert ndimage.label(bar, np.ones((3, 3)))[1] == 1
    assert ndimage.label(ring, np.ones((3, 3)))[1] == 1  # one closed path ...
    assert ndimage.label(~ring)[1] == 2  # ... round the same hole
    assert 9 <= r[ring].min() and r[ring].max() <= 14 and ring.sum() < 0.25 * masks[1].sum()


def test_redraw_keeps_the_digits_ink_where_it_was(digits):
    """Redrawn with pens from fine to marker, each digit's ink stays where the digit's own ink was
    (both are centred the same way, MNIST's and predict's): almost nothing is added further than
    1.5 px from the original ink, and the original ink stays covered."""
    from scipy import ndimage

    from mnist_app.redraw import redraw

    x = digits[:60]
    for width in (1.5, 7.0, 15.0):
        out = redraw(x, np.full(len(x), width), np.full(len(x), 0.4))
        assert out.shape == x.shape and out.dtype == np.float32 and out.min() >= 0 and out.max() == 1
        added, covered = [], []
        for a, b in zip(x.reshape(-1, 28, 28) > 0.3, out.reshape(-1, 28, 28) > 0.5):
            added.append((ndimage.distance_transform_edt(~a)[b] > 1.5).mean())
            covered.append((ndimage.distance_transform_edt(~b)[a] <= 1.5).mean())
        assert np.median(added) < 0.02 and np.percentile(added, 90) < 0.1, width
        assert np.median(covered) > 0.95 and np.percentile(covered, 10) > 0.85, width
        assert not np.array_equal(out, x)


def test_redraw_pen_width_changes_the_strokes_and_predict_brings_a_fine_pen_to_mnists_width(digits):
    from mnist_app.preprocess import stroke_width
    from mnist_app.redraw import brush, pen_paths, redraw

    x = digits[:40]
    t = np.full(len(x), 0.4)
    paths = pen_paths(x, t)
    fine, broad = brush(paths, np.full(len(x), 3.0)), brush(paths, np.full(len(x), 9.0))
    assert (broad.sum(axis=(1, 2)) > 2 * fine.sum(axis=(1, 2))).all()  # the pen's width, before predict's steps
    assert np.median([stroke_width(b) for b in broad]) > 2 * np.median([stroke_width(f) for f in fine])
    # widths predict leaves alone (within preprocess.STROKE_BAND) stay different ...
    narrow, wide = redraw(x, np.full(len(x), 5.0), t), redraw(x, np.full(len(x), 10.0), t)
    assert np.mean(wide.sum(axis=1) > narrow.sum(axis=1)) > 0.8
    # ... a fine pen a third of MNIST's stroke is thickened by center_digit as predict would
    thin_pen = redraw(x, np.full(len(x), 1.5), t)
    assert np.median(thin_pen.sum(axis=1) / x.sum(axis=1)) > 0.7
    assert np.median([stroke_width(v.reshape(28, 28)) for v in thin_pen]) >= 1.5


def test_redraw_kind_in_augment_batch_is_deterministic_and_comes_last(digits):
    x = digits[:80]
    out = augment_batch(x, np.random.default_rng(5), kind="redraw", redraw_probability=0.5)
    again = augment_batch(x, np.random.default_rng(5), kind="redraw", redraw_probability=0.5)
    np.testing.assert_array_equal(out, again)
    other = augment_batch(x, np.random.default_rng(6), kind="redraw", redraw_probability=0.5)
    assert not np.array_equal(out, other)
    changed = np.abs(out - x).max(axis=1) > 1e-3
    assert 0.3 < changed.mean() < 0.7
    np.testing.assert_array_equal(out[~changed], x[~changed])
    assert out.dtype == np.float32 and out.min() >= 0 and out.max() <= 1
    np.testing.assert_array_equal(augment_batch(x, np.random.default_rng(5), kind="redraw", redraw_probability=0.0), x)
    # whatever the order named, the warp comes first and the redraw last (as predict prepares it)
    a = augment_batch(x, np.random.default_rng(5), kind="redraw+affine", redraw_probability=1.0)
    b = augment_batch(x, np.random.default_rng(5), kind="affine+redraw", redraw_probability=1.0)
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="redraw_probability"):
        augment_batch(x, np.random.default_rng(5), kind="redraw", redraw_probability=1.5)


def test_redraw_with_a_marker_keeps_the_loops_of_eights(digits, mnist):
    """A marker as wide as a quarter of the digit fills an 8's loops -- a bar the network would
    learn as "8" (and then read thick 1s as 8s) -- so the pen is narrowed until the loops stay."""
    from mnist_app.redraw import brush, holes, pen_paths, redraw

    eights = digits[mnist.train_labels[:300] == 8]
    assert len(eights) >= 15
    t = np.full(len(eights), 0.4)
    paths = pen_paths(eights, t)
    marker = brush(paths, np.full(len(eights), 15.0))
    assert np.mean(holes(marker > 0.5) < holes(paths)) > 0.5  # the plain marker fills most of them
    out = redraw(eights, np.full(len(eights), 15.0), t).reshape(-1, 28, 28)
    assert np.mean(holes(out > 0.5) >= 1) > 0.8
