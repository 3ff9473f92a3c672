"""mnist_app: recognise handwritten digits with the textbook 784-30-10 sigmoid network.

Data flows one way through the package, one module per step:

    download    mirrors -> verified .gz files in a data directory
    data        IDX files -> float32 arrays, the textbook 50k/10k/10k split
    network     sigmoid layers, feedforward, backpropagation, costs: the book's network.py
    fast_sgd    the same SGD step arranged for speed (what training runs)
    augment     random distortions of training images (affine, elastic, thickness, styles)
    train       epochs, shuffling, mini-batch SGD, evaluation, history.json, presets
    checkpoint  atomic .npz checkpoints (last.npz, best.npz, the shipped model)
    models      which model answers: shipped, best, personal, last or a path; its description
    plot        accuracy.png and the diagnostic pictures (matplotlib, imported only here)
    preprocess  a user's image -> 784 values shaped like an MNIST digit
    predict     network output -> digit and confidence
    evaluate    labelled image folders -> accuracy, per digit and per style, confusion matrix

Around them: image_format (28x28, 784, 10 stated once), errors (one-line user errors), fileio
(atomic writes), interrupts (Ctrl-C held back for a block), reference (the book's per-example code: the tests' oracle and the benchmark's
baseline), benchmark (the timings of scripts/benchmark.py) and cli (one module per command;
scripts/*.py are thin wrappers). docs/design.md says more, one paragraph per module.

Importing the package is deliberately cheap: heavy modules (matplotlib,
requests) are imported only by the modules that need them.
"""

__version__ = "0.1.0"
