"""Client-side helpers: FedProx's proximal term and SCAFFOLD's control variates, against
numpy computations of the papers' formulas."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from cohort.client import FLModel
from cohort.client.fedprox import (
    MU_KEY,
    get_mu,
    proximal_gradient,
    proximal_term,
    torch_proximal_term,
)
from cohort.client.scaffold import CONTROL_PREFIX, ScaffoldClient, split_controls

RNG = np.random.default_rng(0)
W = {"w": RNG.standard_normal((4, 3)).astype(np.float32), "b": RNG.standard_normal(3)}
G = {"w": RNG.standard_normal((4, 3)).astype(np.float32), "b": RNG.standard_normal(3)}


def test_proximal_term_and_gradient() -> None:
    mu = 0.3
    expected = mu / 2 * sum(np.sum((W[k].astype(float) - G[k].astype(float)) ** 2) for k in W)
    assert proximal_term(W, G, mu) == pytest.approx(expected, rel=1e-12)
    grad = proximal_gradient(W, G, mu)
    assert grad["w"].dtype == np.float32
    for k in W:
        np.testing.assert_allclose(grad[k], mu * (W[k] - G[k]), rtol=1e-6)
    # The gradient is the derivative of the term: check one coordinate by finite differences.
    eps = 1e-6
    bumped = {"w": W["w"].astype(np.float64), "b": W["b"].copy()}
    bumped["b"][1] += eps
    numeric = (proximal_term(bumped, G, mu) - proximal_term(W, G, mu)) / eps
    assert numeric == pytest.approx(grad["b"][1], rel=1e-4)


def test_mu_comes_from_the_task_meta() -> None:
    assert get_mu(FLModel(meta={MU_KEY: 0.05})) == 0.05
    assert get_mu(FLModel(), default=0.0) == 0.0


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="PyTorch not installed")
def test_torch_proximal_term_value_and_gradient() -> None:
    import torch

    mu = 0.7
    layer = torch.nn.Linear(3, 4)
    with torch.no_grad():
        layer.weight.copy_(torch.as_tensor(W["w"]))
    reference = {"weight": G["w"], "bias": np.zeros(4, np.float32)}
    term = torch_proximal_term(layer.named_parameters(), reference, mu)
    params = {k: v.detach().numpy() for k, v in layer.named_parameters()}
    assert float(term.detach()) == pytest.approx(proximal_term(params, reference, mu), rel=1e-5)
    term.backward()
    assert layer.weight.grad is not None and layer.bias.grad is not None
    expected = proximal_gradient(params, reference, mu)
    np.testing.assert_allclose(layer.weight.grad.numpy(), expected["weight"], rtol=1e-5)
    np.testing.assert_allclose(layer.bias.grad.numpy(), expected["bias"], rtol=1e-5)


def quadratic_grad(y: dict[str, np.ndarray], target: dict[str, np.ndarray]) -> dict:
    return {k: y[k] - target[k] for k in y}


def test_scaffold_client_follows_option_two() -> None:
    x = {"w": np.ones(3), "b": np.zeros(2)}
    c = {"w": np.full(3, 0.1), "b": np.full(2, -0.2)}
    target = {"w": np.array([2.0, 0.0, 1.0]), "b": np.array([1.0, -1.0])}
    received = {**x, **{CONTROL_PREFIX + k: v for k, v in c.items()}}
    client = ScaffoldClient()
    ci = {k: np.zeros_like(v) for k, v in x.items()}  # the reference's own c_i
    lr, steps = 0.1, 5
    for _round in range(3):
        weights = client.receive(received)
        assert set(weights) == {"w", "b"}
        y = {k: v.copy() for k, v in weights.items()}
        for _ in range(steps):
            grad = quadratic_grad(y, target)
            corr = client.correction()
            y = {k: y[k] - lr * (grad[k] + corr[k]) for k in y}
        sent = client.update(y, steps, lr)
        # Reference, straight from the paper: y_ref trained with g - c_i + c.
        y_ref = {k: v.copy() for k, v in x.items()}
        for _ in range(steps):
            g = quadratic_grad(y_ref, target)
            y_ref = {k: y_ref[k] - lr * (g[k] - ci[k] + c[k]) for k in y_ref}
        new_ci = {k: ci[k] - c[k] + (x[k] - y_ref[k]) / (steps * lr) for k in x}
        weights_sent, dc = split_controls(sent)
        for k in x:
            np.testing.assert_allclose(weights_sent[k], y_ref[k], rtol=1e-12)
            np.testing.assert_allclose(dc[k], new_ci[k] - ci[k], rtol=1e-12, atol=1e-15)
        ci = new_ci


def test_scaffold_client_refuses_a_model_without_controls() -> None:
    with pytest.raises(ValueError, match="not a SCAFFOLD model"):
        ScaffoldClient().receive({"w": np.zeros(2)})
