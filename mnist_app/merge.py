"""Several trained networks as one: an ensemble that is an ordinary Network.

Networks trained from different starting points or seeds make partly different mistakes, so the
mean of their answers errs less than any one of them (L. K. Hansen and P. Salamon, "Neural
network ensembles", IEEE PAMI 12(10), 1990). :func:`merge_networks` takes that mean in the
output neurons' *weighted input* z (the log-odds of each sigmoid output, Nielsen's z^L), not in
the outputs themselves, because then the ensemble is again one sigmoid network:

* the members' hidden layers are placed side by side (the first layer's weights stacked, deeper
  hidden layers block-diagonal, so no member's neurons see another member's);
* the output layer's weights are the members' concatenated and divided by their number, its
  biases their mean -- so z = (1/k) sum_i (W_i a_i + b_i), the members' mean z.

Everything that takes a network -- predict, the web page, evaluate, fine-tuning, checkpoints,
the number reader's cut judge -- then serves an ensemble unchanged; a fine-tune adjusts all
members together as one network. A merged checkpoint's meta lists what it was made of
(:data:`MERGED_FROM`). Measurements: docs/results.md ("Two networks merged").

:func:`mean_of_weights` is the other way to combine networks, for networks continued from one
model (``train.py --init-from``): the mean of their weights, a network of the same size. Such
networks lie in one basin of the cost, and points between them are good networks too (M. Wortsman
et al., "Model soups", ICML 2022); networks trained from different random weights do not -- their
hidden neurons come in different orders -- so for those only :func:`merge_networks` makes sense.
Its meta lists the members under :data:`AVERAGED_FROM`. Measurements: docs/results.md ("Smaller
steps, weight means and ensembles").
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mnist_app.models import architecture
from mnist_app.network import Network

MERGED_FROM = "merged_from"
"""Meta key of a merged checkpoint: one record per member (file, SHA-256, sizes, MNIST test)."""

HOW = "mean of the members' output weighted inputs (log-odds); hidden layers side by side"

AVERAGED_FROM = "averaged_from"
"""Meta key of a weight-mean checkpoint: one record per member, as for :data:`MERGED_FROM`."""

HOW_MEAN = "mean of the members' weights and biases (networks continued from one model)"


def merge_networks(networks: Sequence[Network]) -> Network:
    """One network whose output layer's weighted input is the mean of the members' (see the module
    docstring). Members need the same number of layers, inputs, outputs and dtype; their hidden
    layers may differ in width. ValueError names the first mismatch."""
    if not networks:
        raise ValueError("nothing to merge")
    first = networks[0]
    depth = len(first.sizes)
    for i, n in enumerate(networks[1:], start=2):
        if len(n.sizes) != depth:
            raise ValueError(f"member {i} has {len(n.sizes) - 1} layers, member 1 has {depth - 1}: "
                             "only networks of the same depth merge")
        if n.sizes[0] != first.sizes[0] or n.sizes[-1] != first.sizes[-1]:
            raise ValueError(f"member {i} maps {n.sizes[0]} -> {n.sizes[-1]}, member 1 {first.sizes[0]} -> {first.sizes[-1]}")
        _check_dtype(i, n, first)
    k = len(networks)
    sizes = (first.sizes[0], *(sum(n.sizes[l] for n in networks) for l in range(1, depth - 1)), first.sizes[-1])
    merged = Network(sizes, init="scaled", rng=0, dtype=np.dtype(first.dtype).name)
    weights, biases = [], []
    last = depth - 2  # index of the output layer
    for l in range(depth - 1):
        if l == last:  # output layer: the members' z averaged
            w = np.concatenate([n.weights[l] for n in networks], axis=1) / k if l else sum(n.weights[0] for n in networks) / k
            b = sum(n.biases[l] for n in networks) / k
        elif l == 0:  # first hidden layer: every member reads the same input
            w, b = np.concatenate([n.weights[0] for n in networks]), np.concatenate([n.biases[0] for n in networks])
        else:  # deeper hidden layers: each member's neurons see only its own
            w = np.zeros((sizes[l + 1], sizes[l]), dtype=first.dtype)
            row = col = 0
            for n in networks:
                h_out, h_in = n.weights[l].shape
                w[row:row + h_out, col:col + h_in] = n.weights[l]
                row, col = row + h_out, col + h_in
            b = np.concatenate([n.biases[l] for n in networks])
        weights.append(np.ascontiguousarray(w, dtype=first.dtype))
        biases.append(np.ascontiguousarray(b, dtype=first.dtype))
    merged.weights, merged.biases = weights, biases
    return merged


def mean_of_weights(networks: Sequence[Network]) -> Network:
    """One network of the members' size whose every weight and bias is the mean of theirs (see
    the module docstring for when that is a good network). Members need the same layer sizes
    and dtype; ValueError names the first mismatch."""
    if not networks:
        raise ValueError("nothing to average")
    first = networks[0]
    for i, n in enumerate(networks[1:], start=2):
        if tuple(n.sizes) != tuple(first.sizes):
            raise ValueError(f"member {i} is {architecture(n.sizes)}, member 1 {architecture(first.sizes)}: "
                             "only networks of the same sizes average")
        _check_dtype(i, n, first)
    mean = Network(first.sizes, init="scaled", rng=0, dtype=np.dtype(first.dtype).name)
    mean.weights = [np.ascontiguousarray(np.mean([n.weights[l] for n in networks], axis=0), dtype=first.dtype)
                    for l in range(len(first.weights))]
    mean.biases = [np.ascontiguousarray(np.mean([n.biases[l] for n in networks], axis=0), dtype=first.dtype)
                   for l in range(len(first.biases))]
    return mean


def _check_dtype(i: int, member: Network, first: Network) -> None:
    """ValueError when member ``i`` stores its numbers in another dtype than member 1."""
    if np.dtype(member.dtype) != np.dtype(first.dtype):
        raise ValueError(f"member {i} is {np.dtype(member.dtype).name}, member 1 {np.dtype(first.dtype).name}")


def member_record(path: Path, network: Network, meta: dict[str, Any], info) -> dict[str, Any]:
    """What a merged checkpoint records about one member: enough to find and check it again."""
    return {
        "file": str(path),
        "sha256": hashlib.sha256(Path(path).read_bytes()).hexdigest(),
        "sizes": [int(s) for s in network.sizes],
        "mnist_test_accuracy": info.mnist_test_accuracy,
        **({"config": meta["config"]} if isinstance(meta.get("config"), dict) else {}),
        **({MERGED_FROM: meta[MERGED_FROM]} if isinstance(meta.get(MERGED_FROM), list) else {}),
    }


def merge_models(specs: Sequence[str], out: str | Path, *, mean_weights: bool = False) -> dict[str, Any]:
    """Merge the models ``specs`` name (mnist_app.models specs: shipped, best, ... or paths) and
    save the result to ``out`` (atomically): side by side, or with ``mean_weights`` the mean of
    their weights. Returns the meta written. CheckpointError for a member that does not load;
    ValueError for members that do not merge."""
    from mnist_app.checkpoint import MAX_PARAMETERS, parameter_count, save_checkpoint
    from mnist_app.models import load

    networks, records = [], []
    for spec in specs:
        network, meta, info = load(spec)
        networks.append(network)
        records.append(member_record(info.path, network, meta, info))
    combine, members_key, how = ((mean_of_weights, AVERAGED_FROM, HOW_MEAN) if mean_weights
                                 else (merge_networks, MERGED_FROM, HOW))
    merged = combine(networks)
    parameters = parameter_count(merged.sizes)
    if parameters > MAX_PARAMETERS:  # a file that every loader would refuse is not written
        raise ValueError(f"the merged network would have {parameters:,} parameters, more than mnist_app "
                         f"loads ({MAX_PARAMETERS:,})")
    meta = {"init": "scaled", members_key: records, "merge": how}
    save_checkpoint(out, merged, meta, momentum=False)
    return meta


def member_count(meta: dict[str, Any]) -> int:
    """How many networks a checkpoint's meta says it merges (1 for an ordinary network)."""
    members = meta.get(MERGED_FROM)
    return len(members) if isinstance(members, list) and members else 1
