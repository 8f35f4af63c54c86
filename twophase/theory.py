r"""Theory of the two-phase dynamics: P1 Theorem 3 and P2's ridge-regression model.

Everything here is float64 and follows the device of its tensor inputs (``device=`` where there
are none).  Subsets are bitmasks (bit ``i`` = player ``i``, LSB = player 0; design.md).

**P1 Theorem 3 (spindle at initialisation, paper-spec D).**  If every interaction of a randomly
initialised network is i.i.d. noise ``I(S) ~ N(0, sigma^2)``, the expected salient strength of order
``k`` is ``E[A_k^+] = -E[A_k^-] = N_k sigma / sqrt(2 pi) exp(-tau^2 / (2 sigma^2))`` with
``N_k = types * C(n, k)``: proportional to ``C(n, k)``, a spindle.  With i.i.d. noise on the ``2^n``
outputs instead (P2 Lemma 1), ``Var I(T) = 2^{|T|} sigma^2``.  See :func:`fusiform_curve`.

**P2's model (paper-spec F).**  Learning the interactions ``w`` of one sample is the regression
``y = J w*`` with the zeta matrix ``J[S, T] = 1[T subset S]``; the training noise turns it into the
ridge problem (P2 Eq. 9)

.. math::  \tilde L(w) = 2^{-n} \|y - J w\|^2 + \sum_T c_T w_T^2, \qquad c_T = 2^{|T|} \sigma^2,

whose minimiser is ``w_hat(sigma^2) = M(sigma^2) w*`` (P2 Theorem 3, Eq. 10) with

.. math::  M(\sigma^2) = (B + D)^{-1} B, \quad B[T, T'] = 2^{-|T \cup T'|}, \quad
           D = \operatorname{diag}(2^{|T|} \sigma^2).

**Fast path.**  ``B`` is the ``n``-fold Kronecker power of ``b = [[1, 1/2], [1/2, 1/2]]`` and
``D = sigma^2 d^{(x)n}`` with ``d = diag(1, 2)``.  Both are Kronecker powers of 2x2 SPD factors, so
the generalised eigenproblem factorises: with ``d^{-1/2} b d^{-1/2} = U diag(lambda) U^T``
(``U`` orthogonal 2x2),

.. math::  B + D = d_\otimes^{1/2} U_\otimes (\Lambda_\otimes + \sigma^2) U_\otimes^T d_\otimes^{1/2},
           \qquad M = d_\otimes^{-1/2} U_\otimes \frac{\Lambda_\otimes}{\Lambda_\otimes + \sigma^2}
                      U_\otimes^T d_\otimes^{1/2},

where ``Lambda_(x)[j] = lambda_0^{n-|j|} lambda_1^{|j|}``.  Every factor is applied along the bit
axes in ``O(n 2^n)``: an exact direct solver (:attr:`Solver.SPECTRAL`, the default) that never forms
a ``2^n x 2^n`` matrix and is as accurate as the dense solve (``U`` is orthogonal and
``cond(d^{1/2}) = 2^{n/2}``).  Batched Jacobi-preconditioned conjugate gradients on
``(B + D) x = B w`` (:attr:`Solver.CG`) is the generic iterative alternative and a cross-check;
:attr:`Solver.DENSE` forms ``M`` with :func:`response_matrix` (small ``n`` only).  The row norms
``||m_T||`` (Theorem 4) even have a closed form that never touches a ``2^n`` vector: by the
permutation symmetry they are quadratic forms in the filter factors ``lambda / (lambda + sigma^2)``
whose coefficients come from a bivariate generating function (:attr:`RowNormMethod.SYMMETRIC`,
O(n^4) once plus O(n^2) per ``sigma^2``).

Shapes: vectors over subsets ``(..., 2^n)``; per-order statistics ``(..., n + 1)`` (index = order,
k = 0 included) or ``(..., n)`` (k = 1..n; the empty set is left out, design.md).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import NamedTuple

import torch
from tqdm.auto import tqdm

from .subsets import n_players, subset_orders
from .transforms import zeta, zeta_transpose

__all__ = [
    "NoiseModel",
    "Solver",
    "FitMetric",
    "fusiform_curve",
    "kron_power_matvec",
    "response_matrix",
    "apply_response",
    "CGInfo",
    "RowNormMethod",
    "row_norms_by_order",
    "norm_ratios",
    "theorem4_spread",
    "theorem5_check",
    "default_sigma2_grid",
    "SalientTargets",
    "salient_targets",
    "theoretical_order_curve",
    "predict_order_curve",
    "SigmaFit",
    "fit_sigma2",
    "toy_interactions",
    "PhaseSimulation",
    "simulate_phases",
]

DTYPE = torch.float64

#: 2x2 Kronecker factor of B: B[T, T'] = prod_i b[t_i, t'_i] = 2^{-|T u T'|}.
_B_FACTOR = ((1.0, 0.5), (0.5, 0.5))
#: Diagonal of the 2x2 factor of D / sigma^2: D[T, T] = sigma^2 prod_i d[t_i] = sigma^2 2^{|T|}.
_D_FACTOR = (1.0, 2.0)


class NoiseModel(str, Enum):
    """Noise assumption of :func:`fusiform_curve`.

    ``INTERACTION``: every interaction is i.i.d. ``N(0, sigma^2)`` (P1 Theorem 3).
    ``OUTPUT``: every masked output is i.i.d. ``N(0, sigma^2)``, so ``Var I(T) = 2^{|T|} sigma^2``
    (P2 Lemma 1).
    """

    INTERACTION = "interaction"
    OUTPUT = "output"


def _fast_means_spectral(cls, value):
    """Enum ``_missing_`` hook: the alias ``"fast"`` (any case) selects ``SPECTRAL``."""
    if isinstance(value, str) and value.lower() == "fast":
        return cls.SPECTRAL
    return None


class Solver(str, Enum):
    """How ``M(sigma^2) = (B + D)^{-1} B`` is applied.

    ``SPECTRAL`` (alias ``"fast"``): exact Kronecker generalised-eigen factorisation, O(n 2^n).
    ``CG``: batched Jacobi-preconditioned conjugate gradients on ``(B + D) x = B w``, O(n 2^n) per
    iteration.  ``DENSE``: forms the ``2^n x 2^n`` matrix (O(8^n); small n only).
    """

    SPECTRAL = "spectral"
    CG = "cg"
    DENSE = "dense"

    _missing_ = classmethod(lambda cls, value: _fast_means_spectral(cls, value))


class FitMetric(str, Enum):
    """Distance between a real and a predicted per-order curve (over k = 1..n)."""

    L1 = "l1"  #: sum_k |real_k - pred_k|
    L2 = "l2"  #: sqrt(sum_k (real_k - pred_k)^2)


def _as_enum(enum_cls, value, what: str):
    try:
        return enum_cls(value)
    except ValueError:
        valid = ", ".join(repr(m.value) for m in enum_cls)
        raise ValueError(f"unknown {what} {value!r}; valid values are {valid}") from None


def _check_n(n: int) -> int:
    if int(n) != n or n < 1:
        raise ValueError(f"n (number of players) must be a positive integer, got {n!r}")
    return int(n)


def _as_sigma2(sigma2, device=None) -> torch.Tensor:
    s = torch.as_tensor(sigma2, dtype=DTYPE, device=device)
    if torch.isnan(s).any() or (s < 0).any():
        raise ValueError(f"sigma2 (the noise variance) must be >= 0 and not NaN, got {sigma2!r}")
    return s


# ---------------------------------------------------------------------------------------------
# P1 Theorem 3
# ---------------------------------------------------------------------------------------------


def fusiform_curve(
    n: int,
    sigma: float = 1.0,
    types: int = 1,
    tau: float = 0.0,
    noise: NoiseModel | str = NoiseModel.INTERACTION,
    normalize: bool = True,
    merge_singletons: bool = False,
) -> torch.Tensor:
    r"""Expected per-order strength of pure-noise interactions (P1 Theorem 3; paper-spec D).

    For ``Z ~ N(0, s_k^2)``: ``E[max(Z, 0) 1(|Z| > tau)] = s_k / sqrt(2 pi) exp(-tau^2 / (2 s_k^2))``,
    so

    .. math::  E[A_k^+] = -E[A_k^-] = N_k \frac{s_k}{\sqrt{2\pi}} e^{-\tau^2 / 2 s_k^2},
               \qquad N_k = \text{types} \cdot \binom{n}{k},

    with ``s_k = sigma`` (``noise="interaction"``, P1 Eq. 6) or ``s_k = 2^{k/2} sigma``
    (``noise="output"``: i.i.d. output noise, P2 Lemma 1).

    Args:
        n: number of players.
        sigma: standard deviation ``sigma`` of the noise.
        types: 1 (AND only) or 2 (AND and OR counted separately).
        tau: salience threshold (``tau = 0`` counts every interaction).
        noise: :class:`NoiseModel` or its value.
        normalize: return P2's normalised unsigned curve
            ``I^(k) = E[A_k^+ - A_k^-] / mean_k' E[A_k'^+ - A_k'^-]`` (mean over k equals 1; for
            ``tau = 0``, one type, interaction noise: ``n C(n, k) / (2^n - 1)``) instead of
            ``E[A_k^+]``.
        merge_singletons: with ``types=2``, count order 1 once with variance doubled, as after the
            AND-OR decomposition folds the |S| = 1 OR coefficients into AND (paper-spec A.3).

    Returns:
        float64 tensor ``(n,)`` for k = 1..n: ``E[A_k^+]`` (``A_k^- = -A_k^+``) or the normalised
        curve.
    """
    n = _check_n(n)
    noise = _as_enum(NoiseModel, noise, "noise model")
    if types not in (1, 2):
        raise ValueError(f"types must be 1 (AND) or 2 (AND and OR), got {types!r}")
    if not sigma > 0:
        raise ValueError(f"sigma must be > 0, got {sigma!r}")
    if tau < 0:
        raise ValueError(f"tau must be >= 0, got {tau!r}")
    k = torch.arange(1, n + 1, dtype=DTYPE)
    count = torch.tensor([math.comb(n, int(j)) for j in k], dtype=DTYPE) * types
    std = torch.full_like(k, float(sigma))
    if noise is NoiseModel.OUTPUT:
        std = std * 2.0 ** (k / 2)
    if merge_singletons and types == 2:
        count[0] /= 2  # one merged coefficient per player ...
        std[0] *= math.sqrt(2.0)  # ... that is the sum of two independent ones
    positive = count * std / math.sqrt(2 * math.pi) * torch.exp(-(tau**2) / (2 * std**2))
    if not normalize:
        return positive
    total = 2 * positive  # E[A_k^+] + |E[A_k^-]|
    mean = total.mean()
    if mean == 0:
        raise ValueError(f"tau={tau} is so large that every expected strength underflows to 0")
    return total / mean


# ---------------------------------------------------------------------------------------------
# Kronecker structure of B and D
# ---------------------------------------------------------------------------------------------


def kron_power_matvec(x: torch.Tensor, factor) -> torch.Tensor:
    r"""``y = (A^{(x) n}) x`` for a 2x2 ``A`` without forming the ``2^n x 2^n`` matrix.

    ``(A^{(x) n})[S, T] = prod_i A[s_i, t_i]`` with ``s_i`` = bit ``i`` of ``S``; applied as one
    2x2 mix of the bit-off and bit-on halves along each bit axis (view ``(rows, 2, 2^i)``):
    O(n 2^n), four elementwise kernels per bit.

    Args:
        x: ``(..., 2^n)``.
        factor: 2x2 nested sequence or tensor ``A``.
    Returns:
        ``(..., 2^n)`` in ``x``'s dtype and device.
    """
    n = n_players(x.shape[-1])
    a = torch.as_tensor(factor, dtype=torch.float64)
    if a.shape != (2, 2):
        raise ValueError(f"factor must be 2x2, got shape {tuple(a.shape)}")
    (a00, a01), (a10, a11) = a.tolist()
    shape = x.shape
    y = x.contiguous()
    for i in range(n):  # mix the bit-off and bit-on halves of bit i
        v = y.view(-1, 2, 1 << i)
        x0, x1 = v[:, 0], v[:, 1]
        out = torch.empty_like(v)
        o0, o1 = out[:, 0], out[:, 1]
        torch.mul(x0, a00, out=o0).add_(x1, alpha=a01)
        torch.mul(x0, a10, out=o1).add_(x1, alpha=a11)
        y = out.view(shape)
    return y


def _orders(n: int, device) -> torch.Tensor:
    return subset_orders(n, device=device)


def _b_matvec(x: torch.Tensor) -> torch.Tensor:
    """``B x`` with ``B[T, T'] = 2^{-|T u T'|}``; ``x`` ``(..., 2^n)``."""
    return kron_power_matvec(x, _B_FACTOR)


def _d_diag(n: int, device) -> torch.Tensor:
    """``diag(D) / sigma^2 = 2^{|T|}``, ``(2^n,)``."""
    return torch.pow(2.0, _orders(n, device).to(DTYPE))


@dataclass(frozen=True)
class _Spectral:
    """Per-bit generalised eigen-decomposition of (b, d): d^{-1/2} b d^{-1/2} = U diag(lam) U^T."""

    u: tuple[tuple[float, float], tuple[float, float]]
    lam: tuple[float, float]

    @staticmethod
    def build() -> _Spectral:
        b = torch.tensor(_B_FACTOR, dtype=DTYPE)
        dih = torch.tensor(_D_FACTOR, dtype=DTYPE).rsqrt()
        lam, u = torch.linalg.eigh(dih[:, None] * b * dih[None, :])
        return _Spectral(u=tuple(map(tuple, u.tolist())), lam=tuple(lam.tolist()))

    def eigenvalues(self, n: int, device) -> torch.Tensor:
        """``Lambda_(x)[j] = lam_0^{n-|j|} lam_1^{|j|}``, ``(2^n,)``."""
        k = _orders(n, device).to(DTYPE)
        return self.lam[0] ** (n - k) * self.lam[1] ** k

    def ut(self):
        (u00, u01), (u10, u11) = self.u
        return ((u00, u10), (u01, u11))


_SPECTRAL = _Spectral.build()


# ---------------------------------------------------------------------------------------------
# M(sigma^2)
# ---------------------------------------------------------------------------------------------


def response_matrix(n: int, sigma2, device: torch.device | str | None = None) -> torch.Tensor:
    r"""P2's response matrix ``M(sigma^2) = (B + D)^{-1} B`` (Theorem 3, Eq. 10), dense.

    ``B[T, T'] = 2^{-|T u T'|}`` (``= 2^{-n} (J^T J)[T, T']``), ``D = diag(2^{|T|} sigma^2)``, rows and
    columns indexed by bitmask.  ``w_hat(sigma^2) = M(sigma^2) w*``.

    Args:
        n: number of players (the matrix has ``4^n`` entries: keep ``n <= 12``).
        sigma2: noise variance, float or tensor of shape ``(...)`` (``>= 0``).
        device: device for a float ``sigma2`` (default: ``sigma2``'s device, else CPU).
    Returns:
        float64 tensor ``(..., 2^n, 2^n)``.
    """
    n = _check_n(n)
    if device is None and isinstance(sigma2, torch.Tensor):
        device = sigma2.device
    s = _as_sigma2(sigma2, device)
    orders = _orders(n, device)
    masks = torch.arange(1 << n, device=device)
    b = torch.pow(2.0, -orders[masks[:, None] | masks[None, :]].to(DTYPE))
    a = b + torch.diag_embed(s[..., None] * _d_diag(n, device))
    return torch.linalg.solve(a, b.expand(a.shape))


@dataclass
class CGInfo:
    """Convergence record of :func:`apply_response` with :attr:`Solver.CG`.

    Attributes:
        iterations: CG iterations run (all systems in the batch run together).
        max_relative_residual: ``max ||(B+D) x - rhs|| / ||rhs||`` over the batch at the end.
        converged: whether every system reached the tolerance.
    """

    iterations: int
    max_relative_residual: float
    converged: bool


def _cg_solve(
    rhs: torch.Tensor, s: torch.Tensor, n: int, tol: float, max_iter: int
) -> tuple[torch.Tensor, CGInfo]:
    """Batched Jacobi-preconditioned CG on ``(B + s D1) x = rhs``; ``rhs`` ``(..., 2^n)``, ``s``
    broadcastable to ``rhs.shape[:-1] + (1,)``."""
    d1 = _d_diag(n, rhs.device)
    dsig = s * d1  # (..., 2^n)
    inv_diag = 1.0 / (1.0 / d1 + dsig)  # diag(B) = 2^{-|T|}

    def matvec(p):
        return _b_matvec(p) + dsig * p

    x = torch.zeros_like(rhs)
    r = rhs.clone()
    z = inv_diag * r
    p = z.clone()
    rz = (r * z).sum(-1, keepdim=True)
    rhs_norm = rhs.norm(dim=-1, keepdim=True).clamp_min(torch.finfo(DTYPE).tiny)
    active = r.norm(dim=-1, keepdim=True) / rhs_norm > tol  # converged systems are frozen
    it = 0
    while bool(active.any()) and it < max_iter:
        ap = matvec(p)
        pap = (p * ap).sum(-1, keepdim=True)
        ok = active & (pap > 0)
        alpha = torch.where(ok, rz / torch.where(ok, pap, 1.0), 0.0)
        x = x + alpha * p
        r = r - alpha * ap
        it += 1
        if it % 25 == 0:  # recompute the true residual against drift
            r = torch.where(active, rhs - matvec(x), r)
        z = inv_diag * r
        rz_new = (r * z).sum(-1, keepdim=True)
        ok = active & (rz > 0)
        beta = torch.where(ok, rz_new / torch.where(ok, rz, 1.0), 0.0)
        p = z + beta * p
        rz = rz_new
        active = active & (r.norm(dim=-1, keepdim=True) / rhs_norm > tol)
    rel = ((rhs - matvec(x)).norm(dim=-1, keepdim=True) / rhs_norm).max().item()
    return x, CGInfo(iterations=it, max_relative_residual=rel, converged=rel <= 10 * tol)


def apply_response(
    w: torch.Tensor,
    sigma2,
    *,
    solver: Solver | str = Solver.SPECTRAL,
    transpose: bool = False,
    tol: float = 1e-12,
    max_iter: int | None = None,
    return_info: bool = False,
):
    r"""Apply ``M(sigma^2) = (B + D)^{-1} B`` (or ``M^T = B (B + D)^{-1}``) to a batch of vectors.

    ``w_hat = M(sigma^2) w*`` is the optimum of P2's ridge objective (Eq. 9-10) for targets
    ``w*``.  ``M^T e_T`` is row ``T`` of ``M`` (used by :func:`row_norms_by_order`).

    Args:
        w: ``(..., 2^n)`` vectors over subsets (bitmask order); converted to float64.
        sigma2: float or tensor broadcastable against ``w.shape[:-1]`` (``>= 0``).  A grid of
            ``G`` values against ``B`` vectors: ``w[None]`` (1, B, 2^n) with
            ``sigma2[:, None]`` (G, 1) gives (G, B, 2^n).
        solver: :class:`Solver` (``"spectral"``/``"fast"``, ``"cg"``, ``"dense"``).
        transpose: apply ``M^T`` instead of ``M``.
        tol: CG only, relative residual ``||(B+D)x - rhs|| / ||rhs||`` to reach.
        max_iter: CG only, iteration cap (default ``10 * 2^n``); a warning is raised if
            the tolerance is not reached.
        return_info: also return a :class:`CGInfo` (``None`` for the direct solvers).
    Returns:
        float64 tensor ``(*broadcast(w.shape[:-1], sigma2.shape), 2^n)`` (and the info).
    """
    solver = _as_enum(Solver, solver, "solver")
    w = torch.as_tensor(w)
    if w.dim() == 0:
        raise ValueError("w must have shape (..., 2**n), got a scalar")
    n = n_players(w.shape[-1])
    w = w.to(DTYPE)
    s = _as_sigma2(sigma2, w.device)
    out_shape = torch.broadcast_shapes(w.shape[:-1], s.shape) + (w.shape[-1],)
    s = s[..., None]
    info = None
    if solver is Solver.SPECTRAL:
        half = torch.pow(2.0, _orders(n, w.device).to(DTYPE) / 2)  # d_(x)^{1/2}
        lam = _SPECTRAL.eigenvalues(n, w.device)
        filt = lam / (lam + s)  # (..., 2^n)
        if transpose:  # M^T = d^{1/2} U F U^T d^{-1/2}
            x = kron_power_matvec(w / half, _SPECTRAL.ut())
            x = kron_power_matvec((x * filt).expand(out_shape), _SPECTRAL.u)
            x = x * half
        else:  # M = d^{-1/2} U F U^T d^{1/2}
            x = kron_power_matvec(w * half, _SPECTRAL.ut())
            x = kron_power_matvec((x * filt).expand(out_shape), _SPECTRAL.u)
            x = x / half
    elif solver is Solver.CG:
        max_iter = 10 * (1 << n) if max_iter is None else int(max_iter)
        if transpose:
            y, info = _cg_solve(w.expand(out_shape).contiguous(), s, n, tol, max_iter)
            x = _b_matvec(y)
        else:
            rhs = _b_matvec(w).expand(out_shape).contiguous()
            x, info = _cg_solve(rhs, s, n, tol, max_iter)
        if not info.converged:
            warnings.warn(
                f"CG stopped after {info.iterations} iterations at relative residual "
                f"{info.max_relative_residual:.2e} > tol={tol:.1e}; raise max_iter or use "
                "solver='spectral' (exact)",
                RuntimeWarning,
                stacklevel=2,
            )
    else:
        m = response_matrix(n, s[..., 0], device=w.device)
        if transpose:
            m = m.transpose(-1, -2)
        x = (m @ w[..., None])[..., 0].expand(out_shape)
    x = x.expand(out_shape)
    return (x, info) if return_info else x


# ---------------------------------------------------------------------------------------------
# Theorem 4, Proposition 1, Theorem 5
# ---------------------------------------------------------------------------------------------


def _row_norms_dense(n: int, s: torch.Tensor) -> torch.Tensor:
    """All row norms ``||m_T||``, ``(..., 2^n)``."""
    return response_matrix(n, s).norm(dim=-1)


class RowNormMethod(str, Enum):
    """How :func:`row_norms_by_order` computes ``||m_T||`` per order.

    ``SYMMETRIC``: closed form from the Kronecker and permutation structure, O(n^4 + G n^2) for
    ``G`` values of ``sigma^2``, independent of ``2^n`` (default).  ``SPECTRAL`` (alias ``"fast"``)
    and ``CG``: one solve ``M^T e_T`` per order with :func:`apply_response`, O(n 2^n) each.
    ``DENSE``: forms ``M`` and averages all rows of each order (small n).
    """

    SYMMETRIC = "symmetric"
    SPECTRAL = "spectral"
    CG = "cg"
    DENSE = "dense"

    _missing_ = classmethod(lambda cls, value: _fast_means_spectral(cls, value))


def _poly2_mul(c: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    """``c(x, y) * p(x, y)`` for a bivariate coefficient array ``c`` ``(m, m)`` (entry ``[a, b]`` =
    coefficient of ``x^a y^b``) and a bilinear ``p`` ``(2, 2)``; truncated to ``(m, m)``."""
    out = p[0, 0] * c
    out[1:, :] += p[1, 0] * c[:-1, :]
    out[:, 1:] += p[0, 1] * c[:, :-1]
    out[1:, 1:] += p[1, 1] * c[:-1, :-1]
    return out


def _order_gram(n: int, device) -> torch.Tensor:
    r"""``C[k, p, q]`` with ``||m_{T}||^2 = sum_{p,q} phi_p C[k, p, q] phi_q`` for ``|T| = k``.

    With ``z = U_(x)^T d_(x)^{-1/2} e_T = (x)_i zeta^{(t_i)}`` (per bit ``zeta^{(t)} = U^T
    d^{-1/2} e_t``), ``M^T e_T = d_(x)^{1/2} U_(x) (F * z)`` and ``F_j = phi_{|j|}``, so
    ``||m_T||^2 = (F z)^T G (F z)`` with ``G = (x)(U^T d U)``.  Grouping the eigen-indices ``j, j'``
    by their orders ``p = |j|, q = |j'|`` turns the sum into the coefficients of the bivariate
    generating function ``P_1(x, y)^k P_0(x, y)^{n-k}``, ``P_t = sum_{a,b} zeta^{(t)}_a zeta^{(t)}_b
    (U^T d U)_{ab} x^a y^b``.  Returns float64 ``(n + 1, n + 1, n + 1)``.
    """
    u = torch.tensor(_SPECTRAL.u, dtype=DTYPE, device=device)
    d = torch.tensor(_D_FACTOR, dtype=DTYPE, device=device)
    g = u.T @ torch.diag(d) @ u
    polys = [torch.outer(u[t] / d[t].sqrt(), u[t] / d[t].sqrt()) * g for t in (0, 1)]
    one = torch.zeros(n + 1, n + 1, dtype=DTYPE, device=device)
    one[0, 0] = 1.0
    pow0, pow1 = [one], [one]
    for _ in range(n):
        pow0.append(_poly2_mul(pow0[-1], polys[0]))
        pow1.append(_poly2_mul(pow1[-1], polys[1]))
    # C_k = P_1^k * P_0^{n-k}: a full 2-D convolution, one group per k (conv2d correlates: flip)
    inp = torch.stack(pow1)[None]  # (1, n+1, n+1, n+1)
    weight = torch.stack(pow0[::-1]).flip(-1, -2)[:, None]  # (n+1, 1, n+1, n+1)
    full = torch.nn.functional.conv2d(inp, weight, padding=n, groups=n + 1)[0]
    return full[:, : n + 1, : n + 1]


def _row_norms_symmetric(n: int, s: torch.Tensor) -> torch.Tensor:
    p = torch.arange(n + 1, dtype=DTYPE, device=s.device)
    lam = _SPECTRAL.lam[0] ** (n - p) * _SPECTRAL.lam[1] ** p
    phi = lam / (lam + s[..., None])  # filter factor per eigen-order, (..., n+1)
    sq = torch.einsum("...p,kpq,...q->...k", phi, _order_gram(n, s.device), phi)
    return sq.clamp_min(0).sqrt()


def row_norms_by_order(
    n: int,
    sigma2,
    method: RowNormMethod | str = RowNormMethod.SYMMETRIC,
    *,
    device: torch.device | str | None = None,
    chunk_elements: int = 1 << 24,
    show_progress: bool = False,
) -> torch.Tensor:
    r"""Row norm ``||m_T||_2`` of ``M(sigma^2)`` for each order ``|T| = 0..n`` (P2 Theorem 4).

    Theorem 4: ``||m_T||`` depends only on ``|T|`` (``M`` commutes with player permutations).  The
    solver methods therefore take one representative ``T_k = {0, .., k-1}`` per order and compute
    ``m_{T_k} = M^T e_{T_k} = B (B + D)^{-1} e_{T_k}`` (B, D symmetric): ``n + 1`` fast solves per
    ``sigma^2``.  ``"symmetric"`` (default) evaluates the same norms in closed form through a
    bivariate generating function (see :func:`_order_gram`), without any ``2^n`` vector; it agrees
    with the solves to ~1e-13 relative at n = 16.  ``"dense"`` forms ``M`` and averages all rows
    of each order.

    Args:
        n: number of players.
        sigma2: float or tensor ``(...)``.
        method: :class:`RowNormMethod` (``"symmetric"``, ``"fast"``/``"spectral"``, ``"cg"``,
            ``"dense"``).
        device: device for a float ``sigma2``.
        chunk_elements: solver methods process the sigma^2 values in chunks of about this many
            float64 numbers.
        show_progress: tqdm bar over the chunks.
    Returns:
        float64 ``(..., n + 1)``, index = order.
    """
    n = _check_n(n)
    method = _as_enum(RowNormMethod, method, "method")
    if device is None and isinstance(sigma2, torch.Tensor):
        device = sigma2.device
    s = _as_sigma2(sigma2, device)
    if method is RowNormMethod.SYMMETRIC:
        return _row_norms_symmetric(n, s)
    if method is RowNormMethod.DENSE:
        norms = _row_norms_dense(n, s)
        onehot = torch.nn.functional.one_hot(_orders(n, s.device), n + 1).to(DTYPE)
        return norms @ onehot / onehot.sum(0)
    solver = Solver(method.value)
    reps = (1 << torch.arange(n + 1, device=s.device)) - 1  # T_k = {0..k-1}
    basis = torch.zeros(n + 1, 1 << n, dtype=DTYPE, device=s.device)
    basis[torch.arange(n + 1, device=s.device), reps] = 1.0
    flat = s.reshape(-1)
    per = max(1, chunk_elements // ((n + 1) << n))
    out = []
    starts = range(0, flat.numel(), per)
    for a in tqdm(starts, disable=not show_progress, desc="row norms"):
        chunk = flat[a : a + per]
        rows = apply_response(basis, chunk[:, None], solver=solver, transpose=True)
        out.append(rows.norm(dim=-1))
    return torch.cat(out).reshape(*s.shape, n + 1)


def norm_ratios(
    n: int, sigma2, method: RowNormMethod | str = RowNormMethod.SYMMETRIC, **kwargs
) -> torch.Tensor:
    r"""P2 Fig. 3 / Proposition 1: ``r^(k) = ||m_T|| / ||m_T'||`` with ``|T| = k``, ``|T'| = k + 1``.

    Proposition 1: ``r^(k) > 1`` for ``sigma^2 > 0`` and it grows with ``sigma^2`` (at
    ``sigma^2 = 0``, ``M = I`` and every ratio is 1).

    Args:
        n: number of players (``>= 2``).
        sigma2: float or tensor ``(...)``.
        method, kwargs: passed to :func:`row_norms_by_order`.
    Returns:
        float64 ``(..., n - 1)`` for k = 1..n-1.
    """
    if n < 2:
        raise ValueError(f"norm ratios need n >= 2 players, got {n}")
    norms = row_norms_by_order(n, sigma2, method, **kwargs)
    return norms[..., 1:n] / norms[..., 2 : n + 1]


def theorem4_spread(n: int, sigma2) -> torch.Tensor:
    r"""Check of P2 Theorem 4 with the dense ``M``: relative spread of the row norms in each order,
    ``(max_{|T|=k} ||m_T|| - min_{|T|=k} ||m_T||) / mean_{|T|=k} ||m_T||``.

    Returns:
        float64 ``(..., n + 1)``; Theorem 4 says all zeros (round-off ~1e-13).
    """
    n = _check_n(n)
    s = _as_sigma2(sigma2, sigma2.device if isinstance(sigma2, torch.Tensor) else None)
    norms = _row_norms_dense(n, s)
    orders = _orders(n, s.device)
    out = []
    for k in range(n + 1):
        g = norms[..., orders == k]
        out.append((g.amax(-1) - g.amin(-1)) / g.mean(-1))
    return torch.stack(out, dim=-1)


def theorem5_check(n: int, method: Solver | str = Solver.DENSE) -> float:
    r"""P2 Theorem 5: ``M(0) = I`` (no noise: the network ends at ``w*``).  Returns
    ``max_{T,T'} |M(0) - I|``; with the dense solve its size is ``cond(B) eps``
    (``cond(B) = (lam_1 / lam_0)^n``, about ``10.4^n``), with the spectral solver round-off."""
    n = _check_n(n)
    method = _as_enum(Solver, method, "method")
    eye = torch.eye(1 << n, dtype=DTYPE)
    if method is Solver.DENSE:
        m = response_matrix(n, 0.0)
    else:
        m = apply_response(eye, 0.0, solver=method).T  # column j = M e_j
    return (m - eye).abs().max().item()


# ---------------------------------------------------------------------------------------------
# Prediction of the per-order distribution (paper-spec F.6)
# ---------------------------------------------------------------------------------------------


def default_sigma2_grid(num: int = 100, low: float = 1e-6, high: float = 1e2, device=None):
    """Log grid of ``sigma^2`` values, ``logspace(log10 low, log10 high, num)``, float64 ``(num,)``."""
    if not 0 < low < high:
        raise ValueError(f"need 0 < low < high, got low={low}, high={high}")
    return torch.logspace(math.log10(low), math.log10(high), num, dtype=DTYPE, device=device)


class SalientTargets(NamedTuple):
    """Targets ``w*`` of P2's regression, one per interaction type, each ``(..., 2^n)``."""

    w_and: torch.Tensor
    w_or: torch.Tensor


def salient_targets(I_and_final, I_or_final, v_empty, tau) -> SalientTargets:  # noqa: N803
    r"""Build ``w*_and`` and ``w*_or`` from the final checkpoint's interactions (paper-spec F.6 step 2).

    ``w*_S = I_final(S)`` if ``S`` is salient (``|I_final(S)| >= tau``) and ``S != {}``, else 0;
    ``w*_and[{}] = v(x_{})`` (pass 0 for a "-v0" reward) and ``w*_or[{}] = 0`` (the empty-set value
    belongs to AND, P2 App. F.1).

    Args:
        I_and_final, I_or_final: ``(..., samples, 2^n)`` interactions of the final model.
        v_empty: ``v(x_{})``, float or tensor broadcastable to ``(..., samples)``.
        tau: salience threshold, float or tensor broadcastable to ``I[..., :1]`` (P2:
            ``0.03 E_x|v(x) - v(x_{})|`` on the final model, one value per model; e.g. shape
            ``(..., 1, 1)``).
    Returns:
        :class:`SalientTargets` ``(w_and, w_or)``, float64 ``(..., samples, 2^n)``.
    """
    ia = torch.as_tensor(I_and_final).to(DTYPE)
    io = (
        torch.as_tensor(I_or_final).to(device=ia.device, dtype=DTYPE)
        if I_or_final is not None
        else None
    )
    if io is not None and io.shape != ia.shape:
        raise ValueError(f"I_and and I_or shapes differ: {tuple(ia.shape)} vs {tuple(io.shape)}")
    n_players(ia.shape[-1])
    t = torch.as_tensor(tau, dtype=DTYPE, device=ia.device)
    if (t < 0).any():
        raise ValueError("tau must be >= 0")
    v0 = torch.as_tensor(v_empty, dtype=DTYPE, device=ia.device)

    def keep(x):
        w = torch.where(x.abs() >= t, x, torch.zeros_like(x))
        w[..., 0] = 0.0
        return w

    w_and = keep(ia)
    w_and[..., 0] = v0.expand(ia.shape[:-1])
    w_or = keep(io) if io is not None else torch.zeros_like(ia)
    return SalientTargets(w_and, w_or)


def _order_onehot(n: int, device) -> torch.Tensor:
    """``(2^n, n)``: entry ``[T, k-1] = 1[|T| = k]``; the empty set maps to no column."""
    return torch.nn.functional.one_hot(_orders(n, device), n + 1)[:, 1:].to(DTYPE)


def theoretical_order_curve(w_hats: Sequence[torch.Tensor], ratio: float = 0.03) -> torch.Tensor:
    r"""P2's theoretical per-order distribution from solved ``w_hat`` (paper-spec F.6 step 4).

    Pooled over the types given: ``v_theo = sum_type sum_S w_hat_S``, ``w_hat_{} = sum_type
    w_hat_type[{}]``, per sample ``tau_theo = ratio |v_theo - w_hat_{}|``, and

    .. math::  I^{(k)}_{theo} = E_x\Big[\sum_{type}\sum_{|S| = k, |\hat w_S| \ge \tau_{theo}}
               |\hat w_S|\Big] / Z, \qquad Z = \frac1n \sum_{k'=1}^n E_x[\dots],

    so the mean over k = 1..n is 1 (NaN where ``Z = 0``).

    Args:
        w_hats: one or more tensors ``(..., samples, 2^n)`` (e.g. ``[w_hat_and, w_hat_or]``).
        ratio: salience ratio (P2: 0.03).
    Returns:
        float64 ``(..., n)``, k = 1..n.
    """
    if len(w_hats) == 0:
        raise ValueError("need at least one w_hat tensor")
    n = n_players(w_hats[0].shape[-1])
    v_theo = sum(w.sum(-1) for w in w_hats)
    empty = sum(w[..., 0] for w in w_hats)
    tau = (ratio * (v_theo - empty).abs())[..., None]
    onehot = _order_onehot(n, w_hats[0].device)
    strength = sum((w.abs() * (w.abs() >= tau)) @ onehot for w in w_hats)  # (..., samples, n)
    per_order = strength.mean(-2)
    z = per_order.mean(-1, keepdim=True)
    return torch.where(z > 0, per_order / torch.where(z > 0, z, 1.0), torch.nan)


def predict_order_curve(
    w_and: torch.Tensor,
    w_or: torch.Tensor | None,
    sigma2_grid,
    *,
    and_only: bool = False,
    ratio: float = 0.03,
    solver: Solver | str = Solver.SPECTRAL,
    chunk_elements: int = 1 << 24,
    show_progress: bool = False,
) -> torch.Tensor:
    r"""Predicted per-order curves ``I_theo^(k)(sigma^2)`` over a grid (P2 Fig. 4, 8, 9; spec F.6).

    For each ``sigma^2`` on the grid: ``w_hat_type = M(sigma^2) w*_type`` for AND and OR (the same
    ``M``; OR is an AND on the swapped sample, P2 App. E), then
    :func:`theoretical_order_curve` pooled over both types (``and_only=True``: AND alone,
    P2 App. J.4).

    Args:
        w_and, w_or: ``(..., samples, 2^n)`` targets from :func:`salient_targets` (``w_or`` may be
            ``None`` with ``and_only=True``).
        sigma2_grid: ``(G,)`` noise variances.
        and_only: use only ``w_and``.
        ratio: salience ratio for ``tau_theo``.
        solver: :class:`Solver` used to apply ``M``.
        chunk_elements: the grid is processed in chunks of about this many float64 numbers.
        show_progress: tqdm bar over the chunks.
    Returns:
        float64 ``(..., G, n)``, k = 1..n, mean over k equal to 1.
    """
    wa = torch.as_tensor(w_and).to(DTYPE)
    if wa.dim() < 2:
        raise ValueError(f"w_and must be (..., samples, 2**n), got shape {tuple(wa.shape)}")
    types = [wa]
    if not and_only:
        if w_or is None:
            raise ValueError("w_or is None: pass it, or set and_only=True")
        wo = torch.as_tensor(w_or).to(device=wa.device, dtype=DTYPE)
        if wo.shape != wa.shape:
            raise ValueError(
                f"w_and and w_or shapes differ: {tuple(wa.shape)} vs {tuple(wo.shape)}"
            )
        types.append(wo)
    grid = _as_sigma2(sigma2_grid, wa.device).reshape(-1)
    per = max(1, chunk_elements // (wa.numel() * len(types)))
    curves = []
    for a in tqdm(range(0, grid.numel(), per), disable=not show_progress, desc="predict"):
        g = grid[a : a + per].reshape(-1, *([1] * (wa.dim() - 1)))
        hats = [apply_response(w[None], g, solver=solver) for w in types]  # (g, ..., samples, 2^n)
        curves.append(theoretical_order_curve(hats, ratio))  # (g, ..., n)
    out = torch.cat(curves, dim=0)
    return out.movedim(0, -2)


# ---------------------------------------------------------------------------------------------
# Fitting sigma^2 to real curves
# ---------------------------------------------------------------------------------------------


@dataclass
class SigmaFit:
    """Result of :func:`fit_sigma2` (``E`` epochs, ``G`` grid points).

    Attributes:
        sigma2: ``(E,)`` fitted ``sigma^2`` per epoch.
        index: ``(E,)`` grid index of the fit.
        error: ``(E,)`` distance between the real and the fitted predicted curve.
        errors: ``(E, G)`` distance to every grid point (``inf`` where the prediction is NaN).
        monotone: whether the sequence was constrained to be non-increasing over epochs.
    """

    sigma2: torch.Tensor
    index: torch.Tensor
    error: torch.Tensor
    errors: torch.Tensor
    monotone: bool


def fit_sigma2(
    real_curves,
    predicted,
    sigma2_grid,
    monotone: bool = False,
    metric: FitMetric | str = FitMetric.L1,
) -> SigmaFit:
    r"""Fit ``sigma^2`` per epoch by matching real and predicted per-order curves (spec F.6 step 6).

    ``err[e, g] = dist(real[e], predicted[g])`` (L1: ``sum_k |.|``; L2: Euclidean).  Without
    ``monotone`` each epoch takes ``argmin_g err[e, g]``.  With ``monotone=True`` the sequence
    ``sigma^2(e)`` must be non-increasing in ``e`` ("a sequence of decreasing sigma^2", P2): dynamic
    programming over the grid sorted by ``sigma^2``,
    ``C[e, g] = err[e, g] + min_{sigma2[g'] >= sigma2[g]} C[e-1, g']`` (a suffix minimum), minimises
    ``sum_e err[e, g_e]`` exactly in O(E G).

    Args:
        real_curves: ``(E, n)`` real normalised curves at the epochs, in epoch order.
        predicted: ``(G, n)`` predicted curves from :func:`predict_order_curve`.
        sigma2_grid: ``(G,)``.
        monotone: constrain ``sigma^2`` to be non-increasing over epochs.
        metric: :class:`FitMetric` (``"l1"`` or ``"l2"``).
    Returns:
        :class:`SigmaFit`.
    """
    metric = _as_enum(FitMetric, metric, "metric")
    real = torch.as_tensor(real_curves).to(DTYPE)
    pred = torch.as_tensor(predicted).to(device=real.device, dtype=DTYPE)
    grid = _as_sigma2(sigma2_grid, real.device).reshape(-1)
    if real.dim() != 2 or pred.dim() != 2:
        raise ValueError(
            f"real_curves must be (epochs, n) and predicted (grid, n); got {tuple(real.shape)} "
            f"and {tuple(pred.shape)}"
        )
    if real.shape[-1] != pred.shape[-1] or pred.shape[0] != grid.numel():
        raise ValueError(
            f"shape mismatch: real {tuple(real.shape)}, predicted {tuple(pred.shape)}, "
            f"grid ({grid.numel()},); need real (E, n), predicted (G, n), grid (G,)"
        )
    diff = real[:, None, :] - pred[None, :, :]
    errors = diff.abs().sum(-1) if metric is FitMetric.L1 else diff.pow(2).sum(-1).sqrt()
    errors = torch.where(torch.isnan(errors), torch.inf, errors)
    if not monotone:
        err, idx = errors.min(dim=1)
        return SigmaFit(grid[idx], idx, err, errors, False)
    # ascending sigma^2: a non-increasing sigma^2 sequence is a non-increasing position sequence
    order = torch.argsort(grid)
    e_sorted = errors[:, order]
    num_e, num_g = e_sorted.shape
    cost = e_sorted[0].clone()
    back = torch.zeros(num_e, num_g, dtype=torch.long, device=real.device)
    for e in range(1, num_e):
        # suffix minimum over positions g' >= g of the previous cost
        rev_val, rev_idx = torch.cummin(cost.flip(0), dim=0)
        suf_val = rev_val.flip(0)
        suf_idx = (num_g - 1 - rev_idx).flip(0)
        back[e] = suf_idx
        cost = e_sorted[e] + suf_val
    pos = torch.empty(num_e, dtype=torch.long, device=real.device)
    pos[-1] = torch.argmin(cost)
    for e in range(num_e - 1, 0, -1):
        pos[e - 1] = back[e, pos[e]]
    idx = order[pos]
    err = errors[torch.arange(num_e, device=real.device), idx]
    return SigmaFit(grid[idx], idx, err, errors, True)


# ---------------------------------------------------------------------------------------------
# Phase 1 + phase 2 simulation (paper-spec F.7)
# ---------------------------------------------------------------------------------------------


def toy_interactions(
    n: int,
    orders: Sequence[int] = (3, 4, 5, 6),
    density: float = 0.3,
    scale: float = 1.0,
    seed: int = 0,
    device=None,
) -> torch.Tensor:
    """A sparse random target ``w*`` with salient interactions only at the given orders (the toy of
    paper-spec F.6): each subset of those orders is kept with probability ``density`` and gets a
    ``N(0, scale^2)`` value; ``w*_{} = 0``.  float64 ``(2^n,)``."""
    n = _check_n(n)
    bad = [k for k in orders if not 1 <= k <= n]
    if bad:
        raise ValueError(f"orders must lie in 1..{n}, got {bad}")
    gen = torch.Generator().manual_seed(int(seed))
    o = _orders(n, "cpu")
    keep = torch.isin(o, torch.tensor(list(orders))) & (torch.rand(1 << n, generator=gen) < density)
    w = torch.randn(1 << n, generator=gen, dtype=DTYPE) * scale * keep
    return w.to(device)


@dataclass
class PhaseSimulation:
    """Trajectory of :func:`simulate_phases` (``R`` recorded steps).

    Attributes:
        w: ``(R, ..., 2^n)`` iterates (the first is the random start).
        step: ``(R,)`` global step of each record.
        sigma2: ``(R,)`` the ``sigma^2`` in force at that step (the first stage's at step 0).
        stage: ``(R,)`` stage index.
        schedule: ``(stages,)`` the sigma^2 schedule.
        optima: ``(stages, ..., 2^n)`` exact stage optima ``w_hat = M(sigma^2) w*``.
        lr: ``(stages,)`` step sizes used.
    """

    w: torch.Tensor
    step: torch.Tensor
    sigma2: torch.Tensor
    stage: torch.Tensor
    schedule: torch.Tensor
    optima: torch.Tensor
    lr: torch.Tensor

    def order_strength(self) -> torch.Tensor:
        """``sum_{|T| = k} |w_T|`` for k = 1..n, ``(R, ..., n)``."""
        n = n_players(self.w.shape[-1])
        return self.w.abs() @ _order_onehot(n, self.w.device)

    def normalized_curves(self) -> torch.Tensor:
        """Per-order strength divided by its mean over k = 1..n, ``(R, ..., n)``."""
        s = self.order_strength()
        return s / s.mean(-1, keepdim=True)

    def mean_order(self) -> torch.Tensor:
        r"""Strength-weighted mean order ``sum_k k s_k / sum_k s_k`` (k >= 1), ``(R, ...)``."""
        return _mean_order(self.w)

    def optima_mean_order(self) -> torch.Tensor:
        """Mean order of each stage's optimum ``M(sigma^2) w*``, ``(stages, ...)``."""
        return _mean_order(self.optima)


def _mean_order(w: torch.Tensor) -> torch.Tensor:
    r"""``sum_{T != {}} |T| |w_T| / sum_{T != {}} |w_T|`` over the last dim ``(..., 2^n)`` -> ``(...)``."""
    n = n_players(w.shape[-1])
    s = w.abs() @ _order_onehot(n, w.device)
    k = torch.arange(1, n + 1, dtype=DTYPE, device=w.device)
    return (s * k).sum(-1) / s.sum(-1)


def simulate_phases(
    w_star: torch.Tensor,
    sigma2_schedule: Sequence[float] | torch.Tensor,
    steps: int | Sequence[int] = 2000,
    lr: float | None = None,
    init_scale: float = 1.0,
    seed: int = 0,
    *,
    record_every: int = 10,
    show_progress: bool = False,
) -> PhaseSimulation:
    r"""Gradient descent on P2's noisy objective under a decreasing ``sigma^2`` schedule (spec F.7).

    .. math::  L(w) = 2^{-n} \|y - J w\|^2 + \sum_T c_T w_T^2, \quad y = J w^*, \quad
               c_T = 2^{|T|}\sigma^2, \qquad
               \nabla L = 2^{1-n} J^T (J w - y) + 2 c \odot w,

    with ``J w`` = :func:`~twophase.transforms.zeta` and ``J^T r`` =
    :func:`~twophase.transforms.zeta_transpose` (O(n 2^n), never dense).  Start: ``w0_T ~ N(0, s^2)``
    i.i.d. (the spindle of P1 Theorem 3).  Stage ``j`` runs ``steps[j]`` steps at
    ``sigma2_schedule[j]``.  Phase 1: under the first, large ``sigma^2`` the random high-order
    mass is removed (the optimum ``M(sigma^2) w*`` is almost all low order); phase 2: as
    ``sigma^2`` falls, higher orders are learned.

    Args:
        w_star: ``(..., 2^n)`` targets ``w*`` (e.g. :func:`toy_interactions`).
        sigma2_schedule: ``(stages,)`` noise variances, normally decreasing.
        steps: steps per stage (int, or one per stage).
        lr: step size ``eta``; ``None`` takes ``1 / L`` per stage, with the gradient's Lipschitz
            constant ``L = 2 (lambda_max(B) + 2^n sigma^2)``, ``lambda_max(B) = ((3 + sqrt 5)/4)^n``.
            A given ``lr >= 2 / L`` diverges and is refused.
        init_scale: ``s``, std of the random start.
        seed: seed of the random start.
        record_every: keep every this many steps (and the last of each stage).
        show_progress: tqdm bar over the steps.
    Returns:
        :class:`PhaseSimulation`.
    """
    ws = torch.as_tensor(w_star).to(DTYPE)
    n = n_players(ws.shape[-1])
    sched = _as_sigma2(sigma2_schedule, ws.device).reshape(-1)
    if sched.numel() == 0:
        raise ValueError("sigma2_schedule is empty")
    steps_list = [int(steps)] * sched.numel() if isinstance(steps, int) else [int(s) for s in steps]
    if len(steps_list) != sched.numel() or any(s < 0 for s in steps_list):
        raise ValueError(
            f"steps must be an int or one non-negative int per stage ({sched.numel()}), got {steps!r}"
        )
    if record_every < 1:
        raise ValueError(f"record_every must be >= 1, got {record_every}")
    lam_max_b = ((3 + math.sqrt(5)) / 4) ** n
    d1 = _d_diag(n, ws.device)
    gen = torch.Generator().manual_seed(int(seed))
    w = (torch.randn(ws.shape, generator=gen, dtype=DTYPE) * init_scale).to(ws.device)
    y = zeta(ws)
    scale = 2.0 ** (1 - n)
    records, rec_step, rec_sig, rec_stage, lrs = [w.clone()], [0], [sched[0].item()], [0], []
    total = sum(steps_list)
    bar = tqdm(total=total, disable=not show_progress, desc="simulate")
    step = 0
    for j, (s2, k_steps) in enumerate(zip(sched.tolist(), steps_list, strict=True)):
        lipschitz = 2 * (lam_max_b + (1 << n) * s2)
        eta = 1.0 / lipschitz if lr is None else float(lr)
        if not 0 < eta < 2 / lipschitz:
            raise ValueError(
                f"lr={eta:g} diverges at sigma2={s2:g} (need 0 < lr < 2/L = {2 / lipschitz:.3g}); "
                "pass lr=None for 1/L"
            )
        lrs.append(eta)
        c2 = 2 * s2 * d1
        for t in range(k_steps):
            grad = scale * zeta_transpose(zeta(w) - y) + c2 * w
            w = w - eta * grad
            step += 1
            if (t + 1) % record_every == 0 or t + 1 == k_steps:
                records.append(w.clone())
                rec_step.append(step)
                rec_sig.append(s2)
                rec_stage.append(j)
        bar.update(k_steps)
    bar.close()
    optima = apply_response(ws[None], sched.reshape(-1, *([1] * (ws.dim() - 1))))
    return PhaseSimulation(
        w=torch.stack(records),
        step=torch.tensor(rec_step),
        sigma2=torch.tensor(rec_sig, dtype=DTYPE),
        stage=torch.tensor(rec_stage),
        schedule=sched,
        optima=optima,
        lr=torch.tensor(lrs, dtype=DTYPE),
    )
