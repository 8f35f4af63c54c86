"""Benchmark: batched AND-OR sparsification (twophase.interactions.decompose) against a lab-style SGD reference.

Run:  .venv/bin/python benchmarks/bench_decompose.py [--quick] [--n 10] [--threads 2]

Games (n players, 2**n masks each):
  * "cnn": log-odds v(x_S) = z_y - logsumexp_{c != y} z_c of a small random CNN on smooth random
    images in which the patches of absent players are set to the baseline 0;  "checkpoints" are
    CNNs with different seeds (realistic dense games);
  * "planted": sums of 5 AND and 5 OR unanimity games with N(0,1) weights plus N(0, 0.01^2) noise.

Reference ("lab style": the SGD optimiser of the lab code, written here from its description): for ONE sample at a
time, dense 2^n x 2^n +-1 AND and OR matrices are built with a Python row loop, then gamma and q
(zeros) are trained with torch SGD(momentum 0.9) for 20,000 iterations, lr = logspace(lr0 ->
lr0/10), q clamped to its box every step, loss = sum|I_and| + sum|I_or|; the |S| <= 1 OR terms are
folded into AND afterwards.  It is timed on a few samples and its time is extrapolated linearly to
all samples (and, with --quick, from fewer iterations to 20,000): the output says so.

Ours: decompose_and_or on the whole batch at once.  The exact optimum (scipy HiGHS LP) is computed
for a few samples to report how close both methods get.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import torch
from torch import nn

from twophase.interactions import decompose_and_or, decompose_and_or_lp, fold_singletons

# ------------------------------------------------------------------------------- games


def cnn_games(n: int, samples: int, models: int, seed: int = 0) -> torch.Tensor:
    """(models, samples, 2**n) log-odds games of small random CNNs on masked 16x16 images."""
    g = torch.Generator().manual_seed(seed)
    size, patch = 16, 4
    cells = (size // patch) ** 2
    players = torch.randperm(cells, generator=g)[:n]
    masks = torch.arange(1 << n)
    present = ((masks[:, None] >> torch.arange(n)) & 1).bool()  # (2^n, n)
    keep = torch.ones(1 << n, 1, size, size)
    for i, cell in enumerate(players.tolist()):
        r, c = divmod(cell, size // patch)
        keep[~present[:, i], :, r * patch:(r + 1) * patch, c * patch:(c + 1) * patch] = 0
    imgs = torch.randn(samples, 1, size // 4, size // 4, generator=g)
    imgs = nn.functional.interpolate(imgs, size=(size, size), mode="bilinear", align_corners=False)
    labels = torch.randint(0, 10, (samples,), generator=g)
    out = torch.zeros(models, samples, 1 << n, dtype=torch.float64)
    for m in range(models):
        torch.manual_seed(1000 + m)
        net = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(),
            nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(64, 10),
        ).eval()
        with torch.no_grad():
            for s in range(samples):
                z = net(imgs[s : s + 1] * keep).double()  # (2^n, 10)
                y = int(labels[s])
                others = torch.cat([z[:, :y], z[:, y + 1 :]], dim=1)
                out[m, s] = z[:, y] - torch.logsumexp(others, dim=1)
    return out


def planted_games(n: int, samples: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    masks = torch.arange(1 << n)
    out = torch.zeros(samples, 1 << n, dtype=torch.float64)
    for s in range(samples):
        for kind in ("and", "or"):
            ts = torch.randperm((1 << n) - 1, generator=g)[:5] + 1
            for t in ts.tolist():
                w = float(torch.randn(1, generator=g, dtype=torch.float64))
                hit = (masks & t) == t if kind == "and" else (masks & t) != 0
                out[s] += w * hit.double()
        out[s] += 0.01 * torch.randn(1 << n, generator=g, dtype=torch.float64)
    return out


# ------------------------------------------------------------------------------- lab-style reference


def lab_dense_matrices(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Dense AND / OR matrices built row by row in Python, as the lab code does (O(n 4^n))."""
    L = 1 << n  # noqa: N806
    full = L - 1
    m_and = torch.zeros(L, L)
    m_or = torch.zeros(L, L)
    cols = torch.arange(L)
    pc = torch.tensor([bin(t).count("1") for t in range(L)])
    for s in range(L):
        sub = (cols & ~s) == 0  # T subset S
        sign = (-1.0) ** (bin(s).count("1") - pc[sub]).double()
        m_and[s, sub] = sign.float()
        if s == 0:
            m_or[0, 0] = 1.0
        else:
            m_or[s, full ^ cols[sub]] = -sign.float()  # column N \ T
    return m_and, m_or


def lab_sgd(v: torch.Tensor, q_bound: float, lr0: float, niter: int, n: int):
    """One sample, lab style.  Returns (final folded objective, matrix-building s, iterations s)."""
    t0 = time.perf_counter()
    m_and, m_or = lab_dense_matrices(n)
    t_build = time.perf_counter() - t0
    t0 = time.perf_counter()
    v = v.float()
    bound = q_bound * float((v[-1] - v[0]).abs())
    gamma = torch.zeros_like(v, requires_grad=True)
    q = torch.zeros_like(v, requires_grad=True)
    opt = torch.optim.SGD([gamma, q], lr=lr0, momentum=0.9)
    lrs = torch.logspace(math.log10(lr0), math.log10(lr0) - 1, niter)
    for it in range(niter):
        for group in opt.param_groups:
            group["lr"] = float(lrs[it])
        with torch.no_grad():
            q.clamp_(-bound, bound)
        w = 0.5 * (v + q)
        loss = (m_and @ (w + gamma)).abs().sum() + (m_or @ (w - gamma)).abs().sum()
        if it == niter - 1:
            break
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        q.clamp_(-bound, bound)
        w = 0.5 * (v + q)
        i_and, i_or = fold_singletons(m_and @ (w + gamma), m_or @ (w - gamma))
        obj = float(i_and.abs().sum() + i_or.abs().sum())
    return obj, t_build, time.perf_counter() - t0


# ------------------------------------------------------------------------------- main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes, short reference run")
    ap.add_argument("--n", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--lr0", type=float, default=1e-5, help="lab reference initial lr")
    ap.add_argument("--ref-iters", type=int, default=None, help="reference iterations actually run")
    ap.add_argument("--ref-samples", type=int, default=None, help="samples the reference is timed on")
    ap.add_argument("--lp-samples", type=int, default=3)
    ap.add_argument("--max-iter", type=int, default=3000)
    ap.add_argument("--samples", type=int, default=None, help="samples per game family")
    ap.add_argument("--grid", type=str, default=None,
                    help="CHECKPOINTSxSAMPLES of the batched run, e.g. 30x50; 0 skips it")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    n, quick = args.n, args.quick
    samples_a = args.samples or (20 if quick else 100)
    ckpt, per = (5, 10) if quick else (30, 50)
    if args.grid is not None:
        ckpt, per = (0, 0) if args.grid == "0" else map(int, args.grid.lower().split("x"))
    ref_iters = args.ref_iters or (1000 if quick else 20000)
    ref_samples = args.ref_samples or (1 if quick else 2)
    print(f"n={n}, threads={args.threads}, quick={quick}")

    t = time.perf_counter()
    cnn = cnn_games(n, samples_a, 1)[0]
    grid = cnn_games(n, per, ckpt, seed=1) if ckpt * per else None
    planted = planted_games(n, samples_a)
    print(f"games built in {time.perf_counter() - t:.1f} s")

    rows = []
    for name, v in (("cnn", cnn), ("planted", planted)):
        t = time.perf_counter()
        res = decompose_and_or(v, 0.02, max_iter=args.max_iter)
        t_ours = time.perf_counter() - t
        ref_obj, ref_time = [], []
        for s in range(ref_samples):
            o, t_build, t_iter = lab_sgd(v[s], 0.02, args.lr0, ref_iters, n)
            ref_obj.append(o)
            ref_time.append(t_build + t_iter * 20000 / ref_iters)
        t_ref_total = statistics.median(ref_time) * v.shape[0]
        k = min(args.lp_samples, v.shape[0])
        t = time.perf_counter()
        lp = decompose_and_or_lp(v[:k], 0.02)
        t_lp = (time.perf_counter() - t) / k
        ours_vs_lp = [float(res.objective[i] / lp.objective[i] - 1) for i in range(k)]
        ref_vs_lp = [ref_obj[i] / float(lp.objective[i]) - 1 for i in range(min(k, ref_samples))]
        ours_vs_ref = [float(res.objective[i]) / ref_obj[i] for i in range(ref_samples)]
        # first convergence check at which our best objective is <= the lab's final objective
        reach = []
        for i in range(ref_samples):
            hit = torch.nonzero(res.loss_trace[:, i] <= ref_obj[i])
            reach.append(res.trace_iterations[int(hit[0])] if hit.numel() else -1)
        rows.append((name, v.shape[0], t_ours, t_ref_total, t_lp * v.shape[0], ours_vs_lp, ref_vs_lp,
                     ours_vs_ref, float(res.converged.double().mean()),
                     float(res.relative_gap.median()), res.iterations, reach))


    note = "" if ref_iters == 20000 else f" (ran {ref_iters} its, scaled x{20000 / ref_iters:g})"
    print(f"\nReference: lab-style SGD, lr0={args.lr0:g}, 20000 iterations, timed on {ref_samples} "
          f"sample(s) and extrapolated to all samples{note}; LP = scipy HiGHS (exact), timed on "
          f"{args.lp_samples} samples and extrapolated.\n")
    hdr = (f"{'games':8} {'B':>5} {'ours s':>9} {'lab s (extrap.)':>16} {'speed-up':>9} "
           f"{'LP s (extrap.)':>15} {'ours/LP-1 med':>14} {'lab/LP-1 med':>13} {'ours/lab med':>13} "
           f"{'conv.':>6} {'gap med':>8} {'iters':>6}  iters to reach lab objective")
    print(hdr)
    print("-" * len(hdr))
    for (name, b, t_o, t_r, t_l, o_lp, r_lp, o_r, conv, gap, its, reach) in rows:
        print(f"{name:8} {b:5d} {t_o:9.2f} {t_r:16.1f} {t_r / t_o:8.0f}x {t_l:15.1f} "
              f"{statistics.median(o_lp):14.4f} "
              f"{(statistics.median(r_lp) if r_lp else float('nan')):13.4f} "
              f"{statistics.median(o_r):13.4f} {conv:6.2f} {gap:8.4f} {its:6d}  {reach}")
    if grid is None:
        return
    t = time.perf_counter()
    res_grid = decompose_and_or(grid, 0.02, max_iter=args.max_iter)
    t_grid = time.perf_counter() - t
    print(f"\ncheckpoints x samples grid: {tuple(grid.shape[:2])} = {grid.shape[0] * grid.shape[1]} "
          f"problems at n={n}: {t_grid:.1f} s, converged {float(res_grid.converged.double().mean()):.2f}, "
          f"median certified gap {float(res_grid.relative_gap.median()):.4f}, "
          f"iterations {res_grid.iterations}")


if __name__ == "__main__":
    main()
