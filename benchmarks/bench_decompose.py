"""Benchmark: exact, canonical AND-OR splits against HiGHS, the previous first-order solver and the
lab-style SGD, per game, in one run.

Run (from the repository root):
    .venv/bin/python benchmarks/bench_decompose.py [--quick] [--runs-root runs] [--threads 1]

Games, for n = 8 and n = 10:
  * "network": games of trained networks.  With ``--runs-root`` holding the quick profile's runs
    (``make book``), the rewards of ``lenet-digits`` and ``mlp-digits`` at every checkpoint (n=10)
    and of the MLP of the tests (n=8); without them, the MLP of the tests (an MLP trained on real
    digits, its central pixels as players) at initialisation and after training, for both n;
  * "planted": sums of 5 AND and 5 OR unanimity games with N(0, 1) weights plus N(0, 0.01^2).

Methods, each game solved on its own (1 thread unless --threads), times per game:
  * HiGHS: interior point + crossover on the compact LP with the canonical costs (the strongest
    exact baseline; twophase.interactions.lp.solve_highs);
  * PDHG-3000: the previous solver (``method="pdhg"``, 3000 iterations, batched), with its
    certified gap;
  * lab SGD: the lab's optimiser (dense matrices, SGD momentum 0.9, 20,000 iterations, lr 1e-5 ->
    1e-6), timed on ``--ref-iters`` iterations of a few games and extrapolated (said so);
  * ours: ``decompose_and_or`` (exact, canonical, certified; the time to the certified 0.1 % gap is
    the time to the canonical split, since the split is exact when it is returned).
Ratios are per game against HiGHS (median over games) and of the totals.  Machines are noisy:
quote medians.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.helpers.games import trained_mlp_games  # noqa: E402
from twophase.interactions import decompose_and_or, fold_singletons  # noqa: E402
from twophase.interactions.lp import costs, solve_highs  # noqa: E402


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


def network_games(n: int, count: int, runs_root: Path | None) -> tuple[torch.Tensor, str]:
    """Games of trained networks: quick-run rewards when present (n = 10), else the tests' MLP."""
    if runs_root is not None and n == 10:
        from twophase.pipeline.results import MissingResultsError, open_results

        parts = []
        for name in ("lenet-digits", "mlp-digits"):
            try:
                v = open_results("quick", name, runs_root).rewards()["v"]
            except MissingResultsError:
                continue
            parts.append(v.reshape(-1, v.shape[-1]))
        if parts:
            allv = torch.cat(parts).double()
            pick = torch.randperm(len(allv), generator=torch.Generator().manual_seed(0))[:count]
            return allv[pick], "quick runs lenet-digits + mlp-digits, all checkpoints"
    per = max(1, math.ceil(count / 2))
    return trained_mlp_games(n=n, samples=per, steps=(0, 300))[:count], "MLP on digits (init + trained)"


def lab_sgd(v: torch.Tensor, q_bound: float, lr0: float, niter: int):
    """One game, lab style (dense matrices built row by row, SGD momentum 0.9).  Returns (folded
    objective, seconds)."""
    n = v.shape[-1].bit_length() - 1
    t0 = time.perf_counter()
    L = 1 << n  # noqa: N806
    full = L - 1
    m_and, m_or = torch.zeros(L, L), torch.zeros(L, L)
    cols = torch.arange(L)
    pc = torch.tensor([bin(t).count("1") for t in range(L)])
    for s in range(L):
        sub = (cols & ~s) == 0
        sign = (-1.0) ** (bin(s).count("1") - pc[sub]).double()
        m_and[s, sub] = sign.float()
        if s == 0:
            m_or[0, 0] = 1.0
        else:
            m_or[s, full ^ cols[sub]] = -sign.float()
    v = v.float()
    bound = q_bound * float((v[-1] - v[0]).abs())
    gamma = torch.zeros_like(v, requires_grad=True)
    q = torch.zeros_like(v, requires_grad=True)
    opt = torch.optim.SGD([gamma, q], lr=lr0, momentum=0.9)
    lrs = torch.logspace(math.log10(lr0), math.log10(lr0) - 1, niter)
    for it in range(niter):
        opt.param_groups[0]["lr"] = float(lrs[it])
        with torch.no_grad():
            q.clamp_(-bound, bound)
        w = 0.5 * (v + q)
        loss = (m_and @ (w + gamma)).abs().sum() + (m_or @ (w - gamma)).abs().sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        q.clamp_(-bound, bound)
        w = 0.5 * (v + q)
        i_and, i_or = fold_singletons(m_and @ (w + gamma), m_or @ (w - gamma))
    return float(i_and.abs().sum() + i_or.abs().sum()), time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer games")
    ap.add_argument("--games", type=int, default=None, help="games per family and n")
    ap.add_argument("--runs-root", type=Path, default=Path("runs"))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--ref-iters", type=int, default=300, help="lab SGD iterations actually run")
    ap.add_argument("--ref-games", type=int, default=2)
    ap.add_argument("--ns", type=str, default="8,10")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    count = args.games or (6 if args.quick else 20)
    runs_root = args.runs_root if args.runs_root.exists() else None
    decompose_and_or(planted_games(4, 2))  # compile the simplex kernels outside the timings
    print(f"threads={args.threads}; per-game times in seconds (medians over games); "
          f"lab SGD: {args.ref_iters} iterations of {args.ref_games} games, scaled to 20,000\n")
    hdr = (f"{'n':>2} {'games':8} {'B':>3} | {'HiGHS':>7} | {'PDHG-3000':>9} {'gap med':>8} "
           f"{'obj/LP-1':>9} | {'lab SGD':>8} {'obj/LP-1*':>9} | {'ours':>7} {'mean':>7} "
           f"{'cert.':>6} {'simplex':>7} | {'HiGHS/ours':>10} {'totals':>7}")
    print(hdr)
    print("-" * len(hdr))
    notes = []
    for n in (int(x) for x in args.ns.split(",")):
        c = costs(n, "low-order")
        for family in ("network", "planted"):
            if family == "network":
                v, source = network_games(n, count, runs_root)
                notes.append(f"n={n} network games: {source}")
            else:
                v = planted_games(n, count, seed=n)
            B = v.shape[0]  # noqa: N806
            t_highs, opt = [], []
            for b in range(B):
                vb = v[b].numpy()
                s = float(np.abs(vb).max()) or 1.0
                t = time.perf_counter()
                x, _, _ = solve_highs(vb / s, 0.02 * abs(vb[-1] - vb[0]) / s, c)
                t_highs.append(time.perf_counter() - t)
                opt.append(float(np.abs(x).sum() * s))
            opt_t = torch.tensor(opt, dtype=torch.float64)
            t_ours, engines, cert = [], [], []
            for b in range(B):
                t = time.perf_counter()
                res = decompose_and_or(v[b], workers=1)
                t_ours.append(time.perf_counter() - t)
                engines.append(int(res.engine))
                cert.append(bool(res.converged))
            t = time.perf_counter()
            pd = decompose_and_or(v, method="pdhg", tie_break="none", max_iter=3000)
            t_pd = (time.perf_counter() - t) / B
            lab = [lab_sgd(v[b], 0.02, 1e-5, args.ref_iters) for b in range(min(args.ref_games, B))]
            t_lab = statistics.median(t * 20000 / args.ref_iters for _, t in lab)
            lab_gap = statistics.median(o / opt[b] - 1 for b, (o, _) in enumerate(lab))
            ratio = statistics.median(h / o for h, o in zip(t_highs, t_ours, strict=True))
            print(f"{n:2d} {family:8} {B:3d} | {statistics.median(t_highs):7.3f} | {t_pd:9.3f} "
                  f"{float(pd.relative_gap.median()):8.4f} "
                  f"{float((pd.objective / opt_t - 1).median()):9.4f} | {t_lab:8.1f} {lab_gap:9.3f} | "
                  f"{statistics.median(t_ours):7.3f} {statistics.mean(t_ours):7.3f} "
                  f"{sum(cert) / B:6.2f} {engines.count(0) / B:7.2f} | {ratio:9.1f}x "
                  f"{sum(t_highs) / sum(t_ours):6.1f}x")
    print("\n" + "\n".join(notes))
    print("cert.: share of games certified within 0.1 % of the LP optimum; simplex: share solved by "
          "the parametric simplex (the rest by HiGHS); totals: sum of HiGHS times / sum of ours; "
          "obj/LP-1*: the lab SGD's objective after the iterations actually run.")


if __name__ == "__main__":
    main()
