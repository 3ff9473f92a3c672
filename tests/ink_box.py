"""The ink box of 28x28 digits, for tests that check a pool of training digits is in MNIST's format."""

import numpy as np


def ink_box_sides(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(height, width) of each 28x28 image's ink (pixels above 0.1); images (N, 784) or (N, 28, 28)."""
    ink = images.reshape(-1, 28, 28) > 0.1
    rows, cols = ink.any(axis=2), ink.any(axis=1)
    height = 28 - rows.argmax(axis=1) - rows[:, ::-1].argmax(axis=1)
    width = 28 - cols.argmax(axis=1) - cols[:, ::-1].argmax(axis=1)
    return height, width
