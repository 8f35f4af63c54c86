"""Benchmark: the exact, canonical, certified AND-OR split against HiGHS, per family of games, with
totals and means beside the medians (the totals are what the book's budgets pay).

Run (from the repository root, on a quiet machine; after ``make book`` for the network games):
    .venv/bin/python benchmarks/bench_decompose.py [--quick] [--games G] [--runs-root runs]

Games, one row per family and n:
  * network games, split by checkpoint into ``init`` (epoch 0), ``early`` (epochs up to a tenth
    of the training) and ``late`` (the rest): with ``--runs-root`` holding the quick profile's
    runs, the stored rewards of ``lenet-digits`` and ``mlp-digits`` (n = 10) and of
    ``dgcnn-digits`` (n = 8); without them, the MLP of the tests trained on real digits (central
    pixels as players) at initialisation and after training (``init`` / ``late``);
  * ``planted``: sums of 5 AND and 5 OR unanimity games with N(0, 1) weights plus N(0, 0.01^2).
``--games G`` games per family, drawn with a fixed seed (``--games 0``: every game).

Each game is solved on its own, 1 thread, as the pipeline stores it: **both tie-breaks**
(``decompose_band``: the canonical low-order split and the high-order one), certified. The
baseline solves the same two LPs with HiGHS (interior point + crossover on the compact LP,
``twophase.interactions.lp.solve_highs``), the strongest exact solver available here. The ratio
columns are HiGHS's time over ours: of the medians, and of the totals (= of the means).

Kept (measured on the quick runs' n = 10 games, 1 thread): the basis inverse by an in-place
Gauss-Jordan elimination (``k^3`` multiply-adds instead of ``2 k^3``), HiGHS's basis sorted before
its vertex is recomputed, and no second refactorisation of a sorted basis that did not move: on
the dense games (HiGHS's low-order split, then its recomputation and the repricing to the
high-order one) the work after HiGHS fell from about 0.8 s to 0.2-0.35 s per game at k = 560-730.
The repricing to the band's other end starts from the inverse its first split ended with
(``PathResult.inverse``: the kernels' own inverse of the same sorted basis, so the same bits)
instead of refactorising it again: ``--ns 10 --games 12``, quiet, totals before -> after: init
21.2 -> 19.8 s, early 15.7 -> 14.4 s, late 4.2 -> 4.2 s, planted 15.9 -> 12.5 s; every split of
159 quick-run games (every 7th of lenet-digits, mlp-digits, dgcnn-digits; both tie-breaks, the
engines) identical to the bit.

Tried and not kept (measured on the quick runs' n = 10 games, 1 thread):
  * other HiGHS settings for the dense games (presolve off, interior-point tolerance 1e-7, dual
    or primal simplex, interior point without crossover): 1.23-8.6 s per LP against 1.30-1.72 s
    for interior point + crossover; none below 1.2 s, which is the floor the dense games pay as
    long as HiGHS solves them; HiGHS 1.16's direct-factorisation interior point (``solver =
    "hipo"``, with or without crossover) took 2.9-3.8 s on three games at initialisation where
    IPX took 1.4-1.7 s, and its PDLP 389 s on one;
  * routing the n = 8 games of density above 700 to HiGHS at once (30 of 31 such DGCNN games
    outgrow the basis-size limit after 0.02-0.05 s): network games 1.2-1.4x faster, but planted
    games (sparse optima of high density) 3.7x slower, as they then skip the simplex that ends in
    0.01 s;
  * a plain dual simplex from ``x = 0`` at the game's own box (the most violated row or sign
    leaves, the same ratio test and updates as the path): 1.5-3.6x the pivots of the parametric
    path on 6 games at k = 285-724 (14,700-26,400 against 4,100-14,700), and slower;
  * the same dual simplex with a bound-flipping ratio test (an active row whose dual reaches 0
    jumps to the other side of the box while the dual slope stays positive; Koberstein 2005,
    3.2.2), since a row's box is only ``2 zeta`` wide: the dual objective rises monotonically
    but the iterations grow, 4,771 against 1,548 without flips and 411 for the parametric path
    on a lenet-digits-flip game of epoch 5 (k = 63); on a dense game at initialisation 2,629
    iterations reached k = 574 before the work budget, no finish (Dantzig's choice of the row
    that leaves; steepest-edge weights, which cost a BTRAN per candidate row here, not tried);
  * warm starts along the checkpoints of one sample (the previous optimal basis stays dual
    feasible when only v changes): the dual simplex from the neighbour's basis took more pivots
    than a cold start (median about 2x, up to 13,000 pivots) and more often met a singular basis;
    the parametric path from it (``v + t (v_prev - v)``, dual pivots only) did no better: on 7
    lenet-digits-flip games of epochs 2-5 (k = 63-376) 1.1-3.2x the pivots of the cold path
    (1,299-8,382 against 411-5,689), and 3 of them ran out of the work budget where the cold
    path ended;
  * ``fastmath`` in the numba kernels: about 1.1-1.3x faster per game, removed because its
    reassociation made the tie-break tensors depend on how numba compiled the kernel (cold vs
    warm cache, 1e-4 differences): the same bits everywhere come first;
  * a structured interior point (Mehrotra predictor-corrector in NumPy) closed by a crossover of
    our own, as the engine of the dense games. The normal matrix ``Phi D Phi^T`` needs no
    product: ``(Z D_a Z^T)(S, S') = g_a(S & S')`` and the OR part is ``sum d_o - g_o(~S) -
    g_o(~S') + g_o(~(S | S'))`` with ``g = zeta(d)`` (checked against the explicit product to
    1e-13), so an iteration is a ``2**n``-square gather and a dense Cholesky factorisation (LAPACK;
    20 ms at n = 10). A diagonal regularisation of 1e-12 times the largest weight (as in the first
    prototype) made the residuals stall near 1e-8 on 8 of 30 planted and white-noise games;
    1e-15 (raised only when Cholesky fails) made all 30 converge to a relative gap of 1e-9 in
    9-23 iterations. The crossover read a basis off the interior point (columns with ``x_j`` above
    their reduced-cost slack, rows with the dual above their slack, made square by an LU
    factorisation with partial pivoting of the taller side, QR with column pivoting when that was
    singular), perturbed ``v`` and ``c`` so that this basis was optimal (a wrong-signed basic value
    moved to a small value of the right sign, a free row pulled into its box, a free column's cost
    raised to its reduced cost) and let the parametric simplex follow ``v + t dv, c + t dc`` back to
    ``t = 0`` (Dantzig's self-dual method, the kernel's existing path), starting from LAPACK's
    inverse of the guessed basis and refactorising the end by the kernels (same bits as any path).
    On the dense games of the quick lenet-digits run it ended in 3-46 pivots at the vertex HiGHS
    reaches (the same basis in most, otherwise the same vertex to 1e-11 through another basis of a
    degenerate vertex), but 1 game in 5 failed: a degenerate optimum with more rows at the box than
    nonzero coefficients (e.g. 802 rows, 413 nonzeros, a HiGHS basis of k = 641) gave a singular or
    a poor guess, which then went to HiGHS. Per game it cost about 0.45 s (18-20 iterations) plus
    0.1-0.9 s of crossover (its two ``k^3`` refactorisations dominate at k = 500-1,000), against
    1.4 s for HiGHS and its recomputation. ``--ns 10 --games 12``, quiet, totals with HiGHS for the
    dense games vs with the interior point: init 21.2 vs 19.4 s, early 15.7 vs 17.9 s, late 4.2 vs
    3.8 s, planted 15.9 vs 14.6 s: no measurable gain, so not kept (the failures and the
    refactorisations eat the interior point's 3x over HiGHS). A looser interior tolerance (1e-5,
    1e-6) failed more games. What would make it pay: a crossover for degenerate vertices (adding
    zero-valued columns to the basis) and a cheaper exact refactorisation.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.helpers.games import trained_mlp_games
from twophase.interactions import decompose_band
from twophase.interactions.exact import Engine
from twophase.interactions.lp import costs, solve_highs

Q_BOUND = 0.02
#: quick-profile runs whose stored rewards are the network games, by n
RUNS = {10: ("lenet-digits", "mlp-digits"), 8: ("dgcnn-digits",)}
#: a checkpoint is "early" up to this share of the run's last epoch
EARLY_SHARE = 0.1


def planted_games(n: int, samples: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    masks = torch.arange(1 << n)
    out = torch.zeros(samples, 1 << n, dtype=torch.float64)
    for s in range(samples):
        for kind in ("and", "or"):
            for t in (torch.randperm((1 << n) - 1, generator=g)[:5] + 1).tolist():
                w = float(torch.randn(1, generator=g, dtype=torch.float64))
                hit = (masks & t) == t if kind == "and" else (masks & t) != 0
                out[s] += w * hit.double()
        out[s] += 0.01 * torch.randn(1 << n, generator=g, dtype=torch.float64)
    return out


def _families_of_run(v: torch.Tensor, epochs: torch.Tensor) -> dict[str, torch.Tensor]:
    """``(C, S, 2^n)`` rewards split by checkpoint into init / early / late games ``(B, 2^n)``."""
    last = float(epochs.max())
    kind = ["init" if e == 0 else "early" if e <= EARLY_SHARE * last else "late"
            for e in epochs.tolist()]
    return {k: v[[i for i, x in enumerate(kind) if x == k]].reshape(-1, v.shape[-1])
            for k in ("init", "early", "late")}


def network_families(n: int, runs_root: Path | None) -> tuple[dict[str, torch.Tensor], str]:
    """Network games by family: the quick runs' rewards when current, else the tests' MLP."""
    found: dict[str, list[torch.Tensor]] = {"init": [], "early": [], "late": []}
    names = []
    if runs_root is not None:
        from twophase.pipeline.results import MissingResultsError, open_results

        for name in RUNS.get(n, ()):
            try:
                r = open_results("quick", name, runs_root).rewards()
            except MissingResultsError:
                continue
            names.append(name)
            for k, g in _families_of_run(r["v"].double(), r["epochs"]).items():
                found[k].append(g)
    if names:
        return ({k: torch.cat(g) for k, g in found.items() if g},
                f"quick runs {', '.join(names)}, every checkpoint")
    v = trained_mlp_games(n=n, samples=10, steps=(0, 300))
    return {"init": v[:10], "late": v[10:]}, "the tests' MLP on digits (init, trained)"


def _pick(v: torch.Tensor, games: int, seed: int) -> torch.Tensor:
    if games <= 0 or games >= len(v):
        return v
    return v[torch.randperm(len(v), generator=torch.Generator().manual_seed(seed))[:games]]


def time_highs(v: torch.Tensor) -> list[float]:
    """Seconds per game for HiGHS on both tie-breaks' LPs."""
    n = v.shape[-1].bit_length() - 1
    both = (costs(n, "low-order"), costs(n, "high-order"))
    out = []
    for vb in v.numpy():
        s = float(np.abs(vb).max()) or 1.0
        t = time.perf_counter()
        for c in both:
            solve_highs(vb / s, Q_BOUND * abs(vb[-1] - vb[0]) / s, c)
        out.append(time.perf_counter() - t)
    return out


def time_ours(v: torch.Tensor) -> tuple[list[float], int, int]:
    """Seconds per game for ``decompose_band``; games certified; games the simplex finished."""
    out, certified, simplex = [], 0, 0
    for b in range(len(v)):
        t = time.perf_counter()
        band = decompose_band(v[b], q_bound=Q_BOUND, workers=1)
        out.append(time.perf_counter() - t)
        certified += int(bool(band.low.converged) and bool(band.high.converged))
        simplex += int(int(band.low.engine) == Engine.SIMPLEX)
    return out, certified, simplex


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="6 games per family")
    ap.add_argument("--games", type=int, default=None, help="games per family (0: all)")
    ap.add_argument("--runs-root", type=Path, default=Path("runs"))
    ap.add_argument("--ns", type=str, default="10,8")
    args = ap.parse_args()
    torch.set_num_threads(1)
    games = args.games if args.games is not None else (6 if args.quick else 20)
    runs_root = args.runs_root if args.runs_root.exists() else None
    decompose_band(planted_games(4, 2))  # compile the kernels outside the timings
    hdr = (f"{'n':>2} {'family':8} {'games':>5} | {'HiGHS med':>9} {'mean':>6} {'total':>7} | "
           f"{'ours med':>8} {'mean':>6} {'total':>7} {'cert.':>5} {'simplex':>7} | "
           f"{'x med':>6} {'x total':>7}")
    print("seconds per game, both tie-breaks, 1 thread\n" + hdr + "\n" + "-" * len(hdr))
    notes = []
    for n in (int(x) for x in args.ns.split(",")):
        families, source = network_families(n, runs_root)
        notes.append(f"n={n} network games: {source}")
        families["planted"] = planted_games(n, max(games, 1) if games else 20, seed=n)
        for family, v in families.items():
            v = _pick(v, games, seed=n)
            th = time_highs(v)
            to, certified, simplex = time_ours(v)
            print(f"{n:2d} {family:8} {len(v):5d} | {statistics.median(th):9.3f} "
                  f"{statistics.mean(th):6.3f} {sum(th):7.2f} | {statistics.median(to):8.3f} "
                  f"{statistics.mean(to):6.3f} {sum(to):7.2f} {certified / len(v):5.2f} "
                  f"{simplex / len(v):7.2f} | "
                  f"{statistics.median(th) / statistics.median(to):5.1f}x "
                  f"{sum(th) / sum(to):6.1f}x")
            sys.stdout.flush()
    print("\n" + "\n".join(notes))
    print("cert.: share of games whose both splits are certified within 0.1 % of the LP optimum; "
          "simplex: share the parametric simplex finished (the rest went to HiGHS); x med / "
          "x total: HiGHS's median / total time over ours.")


if __name__ == "__main__":
    main()
