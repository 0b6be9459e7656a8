"""hello-pt: a small convolutional network in PyTorch on scikit-learn's digits (1,797 images of
8x8 pixels, 10 classes), split among the sites with a Dirichlet label skew.

Everything a site needs besides the client API loop: its share of the data, the network, the
model as numpy arrays (what travels), local training, evaluation, and an in-process reference
FedAvg. Every random draw comes from a numpy generator seeded by (seed, site, round), never from
PyTorch's global generator, which the sites of a threads simulation share; with one PyTorch
thread per site the results are the same bits in the simulator and on a real federation.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

from cohort.simulate.partition import dirichlet

__all__ = [
    "ALPHA",
    "BATCH",
    "EPOCHS",
    "LR",
    "MIN_ROWS",
    "Net",
    "evaluate",
    "fedavg",
    "init_params",
    "load_site",
    "load_test",
    "reference_fedavg",
    "split_indices",
    "train",
]

Params = dict[str, np.ndarray]

TEST_FRACTION = 0.2  # 360 images held out, stratified
ALPHA = 0.5  # Dirichlet concentration: each site sees a few digits much more than others
MIN_ROWS = 20  # every site gets at least this many training images
EPOCHS = 5  # local passes per round
BATCH = 32
LR = 0.1
MOMENTUM = 0.9


class Net(nn.Module):
    """Two 3x3 convolutions with max pooling, then a linear layer: 6,090 parameters."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)  # 8x8 -> pool -> 4x4
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)  # 4x4 -> pool -> 2x2
        self.fc = nn.Linear(32 * 2 * 2, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of the 10 digits for a batch of (N, 1, 8, 8) images."""
        x = torch.max_pool2d(torch.relu(self.conv1(x)), 2)
        x = torch.max_pool2d(torch.relu(self.conv2(x)), 2)
        return self.fc(torch.flatten(x, 1))


@functools.cache
def _dataset() -> tuple[np.ndarray, np.ndarray]:
    # Parsed once per process (a simulation runs many sites in one process); pixels are 0..16.
    digits = load_digits()
    X = (digits.images / 16.0).astype(np.float32)[:, None, :, :]
    y = np.asarray(digits.target, dtype=np.int64)
    X.flags.writeable = y.flags.writeable = False
    return X, y


def split_indices(n_sites: int, seed: int = 0) -> tuple[list[np.ndarray], np.ndarray]:
    """Each site's training rows (a Dirichlet(``ALPHA``) label skew, at least ``MIN_ROWS``
    each, from ``cohort.simulate.partition``) and the stratified held-out test rows."""
    y = _dataset()[1]
    train_idx, test_idx = train_test_split(
        np.arange(len(y)), test_size=TEST_FRACTION, stratify=y, random_state=seed
    )
    shares = dirichlet(y[train_idx], n_sites, alpha=ALPHA, seed=seed, min_rows=MIN_ROWS)
    return [np.sort(train_idx[s]) for s in shares], np.sort(test_idx)


def load_site(site_index: int, n_sites: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Images and labels of site ``site_index`` (0-based) out of ``n_sites``."""
    if not 0 <= site_index < n_sites:
        raise ValueError(f"site_index {site_index} is outside 0..{n_sites - 1}")
    X, y = _dataset()
    rows = split_indices(n_sites, seed)[0][site_index]
    return X[rows], y[rows]


def load_test(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The held-out test set (the same for any number of sites)."""
    X, y = _dataset()
    rows = split_indices(1, seed)[1]
    return X[rows], y[rows]


def init_params(seed: int = 0) -> Params:
    """PyTorch's default initialisation (uniform in +-1/sqrt(fan_in)), drawn with numpy."""
    rng = np.random.default_rng(seed)
    params: Params = {}
    shapes = Net().state_dict()
    for name, tensor in shapes.items():
        layer = name.rsplit(".", 1)[0]
        weight = shapes[f"{layer}.weight"]  # a bias uses its layer's fan-in
        fan_in = int(np.prod(weight.shape[1:]))
        bound = 1.0 / np.sqrt(fan_in)
        params[name] = rng.uniform(-bound, bound, tuple(tensor.shape)).astype(np.float32)
    return params


def _net(params: Params) -> Net:
    net = Net()
    net.load_state_dict(
        {k: torch.from_numpy(np.array(v, dtype=np.float32)) for k, v in params.items()}
    )
    return net


def train(
    params: Params,
    X: np.ndarray,
    y: np.ndarray,
    *,
    epochs: int = EPOCHS,
    lr: float = LR,
    seed: int = 0,
    site: int = 0,
    round: int = 0,
) -> Params:
    """SGD with momentum from ``params``; the batch order is drawn from (seed, site, round)."""
    net = _net(params)
    optimizer = torch.optim.SGD(net.parameters(), lr=lr, momentum=MOMENTUM)
    rng = np.random.default_rng([seed, site, round])
    images, labels = torch.from_numpy(np.array(X)), torch.from_numpy(np.array(y))
    net.train()
    for _ in range(epochs):
        order = torch.from_numpy(rng.permutation(len(y)))
        for start in range(0, len(y), BATCH):
            batch = order[start : start + BATCH]
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(net(images[batch]), labels[batch])
            loss.backward()
            optimizer.step()
    return {k: v.detach().numpy().copy() for k, v in net.state_dict().items()}


@torch.no_grad()
def evaluate(params: Params, X: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Accuracy and mean cross-entropy of ``params`` on (X, y)."""
    net = _net(params).eval()
    logits = net(torch.from_numpy(np.array(X)))
    labels = torch.from_numpy(np.array(y))
    return {
        "accuracy": float((logits.argmax(1) == labels).double().mean()),
        "loss": float(nn.functional.cross_entropy(logits, labels)),
    }


def fedavg(updates: list[tuple[Params, int]]) -> Params:
    """Sample-weighted mean in float64, summed in the order given, cast back to float32."""
    total = float(sum(n for _, n in updates))
    out: Params = {}
    for name in updates[0][0]:
        acc = np.zeros(updates[0][0][name].shape, dtype=np.float64)
        for params, n in updates:
            acc += float(n) * params[name].astype(np.float64)
        out[name] = (acc / total).astype(np.float32)
    return out


def reference_fedavg(n_sites: int, rounds: int, seed: int = 0) -> list[Params]:
    """FedAvg in one process, without the platform: the global model after each round."""
    sites = [load_site(k, n_sites, seed) for k in range(n_sites)]
    params = init_params(seed)
    trail = [params]
    for rnd in range(1, rounds + 1):
        updates = [
            (train(params, X, y, seed=seed, site=k, round=rnd), len(y))
            for k, (X, y) in enumerate(sites)
        ]
        params = fedavg(updates)
        trail.append(params)
    return trail
