"""The MNIST image format, stated once: every module that shapes, reads or draws a digit uses these.

An MNIST digit is a 28x28 grey image, flattened row by row into 784 values in [0, 1] (ink = 1),
and belongs to one of 10 classes, the digits 0-9.
"""

SIDE = 28  # pixels per row and per column
N_PIXELS = SIDE * SIDE  # 784: the network's input layer
N_CLASSES = 10  # digits 0-9: the network's output layer
