r"""P2's response matrix ``M(sigma^2)`` and its propositions (P2 Thm 3-5, Prop. 1).

Everything here is float64 and follows the device of its tensor inputs (``device=`` where there
are none).  Subsets are bitmasks (bit ``i`` = player ``i``, LSB = player 0).

**P2's model** (book/methods/theory.md (method-theory-regression)).  Learning the interactions
``w`` of one sample is the regression ``y = J w*`` with the zeta matrix ``J[S, T] = 1[T subset S]``;
the training noise turns it into the ridge problem (P2 Eq. 9)

.. math::  \tilde L(w) = 2^{-n} \|y - J w\|^2 + \sum_T c_T w_T^2, \qquad c_T = 2^{|T|} \sigma^2,

whose minimiser is ``w_hat(sigma^2) = M(sigma^2) w*`` (P2 Theorem 3, Eq. 10) with

.. math::  M(\sigma^2) = (B + D)^{-1} B, \quad B[T, T'] = 2^{-|T \cup T'|}, \quad
           D = \operatorname{diag}(2^{|T|} \sigma^2).

**Fast path.**  ``B`` is the ``n``-fold Kronecker power of ``b = [[1, 1/2], [1/2, 1/2]]`` and
``D = sigma^2 d^{(x)n}`` with ``d = diag(1, 2)``.  Both are Kronecker powers of 2x2 SPD factors, so
the generalised eigenproblem factorises: with ``d^{-1/2} b d^{-1/2} = U diag(lambda) U^T``
(``U`` orthogonal 2x2),

.. math::  B + D = d_\otimes^{1/2} U_\otimes (\Lambda_\otimes + \sigma^2)
                   U_\otimes^T d_\otimes^{1/2},
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
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from enum import Enum

import torch
from tqdm.auto import tqdm

from twophase.choices import parse_choice
from twophase.interactions.subsets import n_players, subset_orders

__all__ = [
    "DTYPE",
    "CGInfo",
    "RowNormMethod",
    "Solver",
    "apply_response",
    "as_sigma2",
    "check_n",
    "d_diag",
    "kron_power_matvec",
    "norm_ratios",
    "response_matrix",
    "row_norms_by_order",
    "theorem4_spread",
    "theorem5_check",
]

DTYPE = torch.float64

#: 2x2 Kronecker factor of B: B[T, T'] = prod_i b[t_i, t'_i] = 2^{-|T u T'|}.
_B_FACTOR = ((1.0, 0.5), (0.5, 0.5))
#: Diagonal of the 2x2 factor of D / sigma^2: D[T, T] = sigma^2 prod_i d[t_i] = sigma^2 2^{|T|}.
_D_FACTOR = (1.0, 2.0)


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



def check_n(n: int) -> int:
    if int(n) != n or n < 1:
        raise ValueError(f"n (number of players) must be a positive integer, got {n!r}")
    return int(n)


def as_sigma2(sigma2, device=None) -> torch.Tensor:
    s = torch.as_tensor(sigma2, dtype=DTYPE, device=device)
    if torch.isnan(s).any() or (s < 0).any():
        raise ValueError(f"sigma2 (the noise variance) must be >= 0 and not NaN, got {sigma2!r}")
    return s



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


def _b_matvec(x: torch.Tensor) -> torch.Tensor:
    """``B x`` with ``B[T, T'] = 2^{-|T u T'|}``; ``x`` ``(..., 2^n)``."""
    return kron_power_matvec(x, _B_FACTOR)


def d_diag(n: int, device) -> torch.Tensor:
    """``diag(D) / sigma^2 = 2^{|T|}``, ``(2^n,)``."""
    return torch.pow(2.0, subset_orders(n, device=device).to(DTYPE))


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
        k = subset_orders(n, device=device).to(DTYPE)
        return self.lam[0] ** (n - k) * self.lam[1] ** k

    def ut(self):
        (u00, u01), (u10, u11) = self.u
        return ((u00, u10), (u01, u11))


_SPECTRAL = _Spectral.build()


def response_matrix(n: int, sigma2, device: torch.device | str | None = None) -> torch.Tensor:
    r"""P2's response matrix ``M(sigma^2) = (B + D)^{-1} B`` (Theorem 3, Eq. 10), dense.

    ``B[T, T'] = 2^{-|T u T'|}`` (``= 2^{-n} (J^T J)[T, T']``), ``D = diag(2^{|T|} sigma^2)``, rows
    and columns indexed by bitmask.  ``w_hat(sigma^2) = M(sigma^2) w*``.

    Args:
        n: number of players (the matrix has ``4^n`` entries: keep ``n <= 12``).
        sigma2: noise variance, float or tensor of shape ``(...)`` (``>= 0``).
        device: device for a float ``sigma2`` (default: ``sigma2``'s device, else CPU).
    Returns:
        float64 tensor ``(..., 2^n, 2^n)``.
    """
    n = check_n(n)
    if device is None and isinstance(sigma2, torch.Tensor):
        device = sigma2.device
    s = as_sigma2(sigma2, device)
    orders = subset_orders(n, device=device)
    masks = torch.arange(1 << n, device=device)
    b = torch.pow(2.0, -orders[masks[:, None] | masks[None, :]].to(DTYPE))
    a = b + torch.diag_embed(s[..., None] * d_diag(n, device))
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
    d1 = d_diag(n, rhs.device)
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
    solver = parse_choice(Solver, solver, "solver")
    w = torch.as_tensor(w)
    if w.dim() == 0:
        raise ValueError("w must have shape (..., 2**n), got a scalar")
    n = n_players(w.shape[-1])
    w = w.to(DTYPE)
    s = as_sigma2(sigma2, w.device)
    out_shape = torch.broadcast_shapes(w.shape[:-1], s.shape) + (w.shape[-1],)
    s = s[..., None]
    info = None
    if solver is Solver.SPECTRAL:
        half = torch.pow(2.0, subset_orders(n, device=w.device).to(DTYPE) / 2)  # d_(x)^{1/2}
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
    n = check_n(n)
    method = parse_choice(RowNormMethod, method, "method")
    if device is None and isinstance(sigma2, torch.Tensor):
        device = sigma2.device
    s = as_sigma2(sigma2, device)
    if method is RowNormMethod.SYMMETRIC:
        return _row_norms_symmetric(n, s)
    if method is RowNormMethod.DENSE:
        norms = _row_norms_dense(n, s)
        onehot = torch.nn.functional.one_hot(subset_orders(n, device=s.device), n + 1).to(DTYPE)
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
    r"""P2 Fig. 3 / Proposition 1: ``r^(k) = ||m_T|| / ||m_T'||`` with ``|T| = k``,
    ``|T'| = k + 1``.

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
    n = check_n(n)
    s = as_sigma2(sigma2, sigma2.device if isinstance(sigma2, torch.Tensor) else None)
    norms = _row_norms_dense(n, s)
    orders = subset_orders(n, device=s.device)
    out = []
    for k in range(n + 1):
        g = norms[..., orders == k]
        out.append((g.amax(-1) - g.amin(-1)) / g.mean(-1))
    return torch.stack(out, dim=-1)


def theorem5_check(n: int, method: Solver | str = Solver.DENSE) -> float:
    r"""P2 Theorem 5: ``M(0) = I`` (no noise: the network ends at ``w*``).  Returns
    ``max_{T,T'} |M(0) - I|``; with the dense solve its size is ``cond(B) eps``
    (``cond(B) = (lam_1 / lam_0)^n``, about ``10.4^n``), with the spectral solver round-off."""
    n = check_n(n)
    method = parse_choice(Solver, method, "method")
    eye = torch.eye(1 << n, dtype=DTYPE)
    if method is Solver.DENSE:
        m = response_matrix(n, 0.0)
    else:
        m = apply_response(eye, 0.0, solver=method).T  # column j = M e_j
    return (m - eye).abs().max().item()

