"""The gradient of a loss with respect to the logits, pixel by pixel.

Every analysis differentiates with respect to **logits** ``z`` of shape ``(1, C, *S)``:

- ``binary`` mode (``C = 1``): :math:`p = \\sigma(z)`;
- ``multiclass`` mode (``C >= 2``): :math:`p = \\mathrm{softmax}(z)` over the class axis.

A map that holds probabilities is turned into logits first (:func:`to_logits`), and the losses are
then called with ``from_logits=True``, so every loss is differentiated with respect to the same
variables. ``nll`` called with logits is ``ce`` (its log-probabilities are ``log_softmax(z)``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from segeval.errors import UsageError
from segeval.losses import get_loss, loss_spec

__all__ = [
    "LOGIT_EPS",
    "LossGradient",
    "loss_gradient",
    "loss_options",
    "pixel_magnitude",
    "probabilities",
    "reference_probability",
    "to_logits",
]

LOGIT_EPS = 1e-6
"""Default clamp of probabilities before taking logits: ``p`` is clamped to ``[eps, 1 - eps]``."""


def to_logits(prediction: torch.Tensor, *, from_logits: bool, eps: float = LOGIT_EPS) -> torch.Tensor:
    r"""Logits of a prediction map ``(1, C, *S)``, in float64.

    Parameters
    ----------
    prediction : torch.Tensor, shape (1, C, *S)
        Logits (returned as they are, in float64) or probabilities.
    from_logits : bool
        Whether ``prediction`` holds logits.
    eps : float, default 1e-6
        Probabilities are clamped before the logarithm.

    Returns
    -------
    torch.Tensor, float64, shape (1, C, *S)
        Binary (``C = 1``): :math:`z = \ln\frac{q}{1-q}`, :math:`q = \mathrm{clamp}(p, \epsilon, 1-\epsilon)`
        (so :math:`\sigma(z) = q`). Multi-class: :math:`z_c = \ln \max(p_c, \epsilon)` (so
        :math:`\mathrm{softmax}(z) = p` when the probabilities sum to 1 and none is below ``eps``).

    Examples
    --------
    >>> p = torch.tensor([[[0.5, 0.9]]])
    >>> to_logits(p, from_logits=False)
    tensor([[[0.0000, 2.1972]]], dtype=torch.float64)
    """
    z = prediction.detach().to(torch.float64)
    if from_logits:
        return z
    if not 0.0 < eps < 0.5:
        raise UsageError(f"Expected `eps` to be in (0, 0.5), got {eps!r}")
    if z.shape[1] == 1:
        q = z.clamp(eps, 1.0 - eps)
        return torch.log(q) - torch.log1p(-q)
    return torch.log(z.clamp(min=eps))


def probabilities(logits: torch.Tensor) -> torch.Tensor:
    """Sigmoid (one channel) or softmax over the class axis (several channels) of ``(1, C, *S)`` logits."""
    return torch.sigmoid(logits) if logits.shape[1] == 1 else torch.softmax(logits, dim=1)


def reference_probability(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    r"""The probability :math:`p_t` the prediction gives to the reference class, shape ``(*S)``.

    Binary: :math:`p_t = p` where the target is 1 and :math:`1 - p` where it is 0. Multi-class:
    :math:`p_t = p_{y}`, the softmax probability of the target class :math:`y`.

    Examples
    --------
    >>> z = torch.zeros(1, 1, 2, dtype=torch.float64)
    >>> reference_probability(z, torch.tensor([[0, 1]])).tolist()
    [0.5, 0.5]
    """
    p = probabilities(logits)[0]
    t = target[0].long()
    if p.shape[0] == 1:
        return torch.where(t == 1, p[0], 1.0 - p[0])
    return torch.gather(p, 0, t[None])[0]


def loss_options(name: str, spacing_mm: tuple[float, ...] | None) -> dict[str, Any]:
    """Options given to loss ``name`` by the analyses: the case's spacing to losses that take one."""
    if spacing_mm is not None and "spacing" in loss_spec(name).options():
        return {"spacing": tuple(float(s) for s in spacing_mm)}
    return {}


@dataclass
class LossGradient:
    """One loss evaluated and differentiated at some logits.

    Attributes
    ----------
    value : float
        The loss (``reduction="mean"``).
    grad : torch.Tensor, shape (1, C, *S)
        :math:`\\partial L / \\partial z`; zeros when the loss does not depend on ``z``.
    """

    value: float
    grad: torch.Tensor


def loss_gradient(
    name: str, logits: torch.Tensor, target: torch.Tensor, *, mode: str, options: Mapping[str, Any] | None = None
) -> LossGradient:
    """Value of loss ``name`` at ``logits`` and its gradient with respect to them.

    Parameters
    ----------
    name : str
        A catalog name or alias.
    logits : torch.Tensor, shape (1, C, *S)
        Float64 logits (see :func:`to_logits`).
    target : torch.Tensor, shape (1, *S)
        Integer class indices (multiclass) or 0/1 (binary).
    mode : {"binary", "multiclass"}
    options : mapping, optional
        Further loss options (``reduction`` stays ``"mean"``).

    Returns
    -------
    LossGradient

    Examples
    --------
    >>> z = torch.tensor([[[0.0, 0.0]]], dtype=torch.float64)
    >>> g = loss_gradient("bce", z, torch.tensor([[0, 1]]), mode="binary")
    >>> g.grad.tolist()                    # (p - g) / N with p = 0.5, N = 2
    [[[0.25, -0.25]]]
    """
    module = get_loss(name, mode=mode, from_logits=True, **dict(options or {})).to(logits.device)
    z = logits.detach().clone().requires_grad_(True)
    value = module(z, target)
    if value.requires_grad:
        (grad,) = torch.autograd.grad(value, z, allow_unused=True)
    else:
        grad = None
    return LossGradient(float(value.detach()), torch.zeros_like(z) if grad is None else grad.detach())


def pixel_magnitude(grad: torch.Tensor) -> torch.Tensor:
    r"""Per-pixel gradient magnitude :math:`\lVert \partial L/\partial z_i \rVert_2` over the class axis.

    ``grad`` has shape ``(1, C, *S)``; the result has shape ``(*S)``. With one channel it is
    :math:`|\partial L/\partial z_i|`.
    """
    return torch.linalg.vector_norm(grad[0], dim=0)
