"""Benchmark: P2's response matrix M(sigma^2) = (B + D)^{-1} B, fast paths against the dense solve.

Two tasks, one sigma^2 each:
  apply     -- w_hat = M w* for a batch of vectors (P2 Eq. 10; the prediction of P2 Fig. 4),
  row norms -- ||m_T|| for every order |T| = 0..n (P2 Theorem 4, Fig. 3).
Methods: ``dense`` (form M with torch.linalg.solve, O(8^n)), ``spectral`` (exact Kronecker
generalised-eigen factorisation, O(n 2^n)), ``cg`` (batched Jacobi-preconditioned conjugate
gradients, O(n 2^n) per iteration), and for the row norms ``symmetric`` (closed form through a
generating function, O(n^4), no 2^n vector).  Dense runs for n <= --max-dense, the fast paths up
to --max-n.

Run:  .venv/bin/python benchmarks/bench_theory.py [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from twophase import theory as th


def _median_ms(fn, repeats: int) -> tuple[float, object]:
    out = fn()  # warm-up (and the result)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times), out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="fewer sizes and repeats (CI)")
    parser.add_argument("--batch", type=int, default=50, help="vectors per apply (default 50)")
    parser.add_argument("--sigma2", type=float, default=1e-2)
    parser.add_argument("--max-dense", type=int, default=None, help="largest n for the dense solve")
    parser.add_argument("--max-n", type=int, default=None, help="largest n for the fast paths")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--cg-tol", type=float, default=1e-10)
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    max_dense = args.max_dense or (10 if args.quick else 12)
    max_n = args.max_n or (13 if args.quick else 16)
    repeats = args.repeats or (3 if args.quick else 5)
    s2 = args.sigma2
    gen = torch.Generator().manual_seed(0)
    print(
        f"# M(sigma^2) benchmark: sigma2={s2:g}, batch={args.batch}, float64, "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, median of {repeats}"
    )
    header = (
        f"{'n':>3} {'task':<9} {'dense ms':>10} {'spectral ms':>12} {'cg ms':>10} {'cg it':>6} "
        f"{'dense/spec':>11} {'dense/cg':>9} {'max|spec-dense|':>16} {'max|cg-spec|':>13} "
        f"{'symm ms':>8} {'max rel|symm-spec|':>19}"
    )
    print(header)
    print("-" * len(header))
    for n in range(8, max_n + 1):
        w = torch.randn(args.batch, 1 << n, generator=gen, dtype=torch.float64)

        def dense_apply(n=n, w=w):
            return w @ th.response_matrix(n, s2).T

        def spec_apply(w=w):
            return th.apply_response(w, s2, solver="spectral")

        def cg_apply(w=w):
            return th.apply_response(w, s2, solver="cg", tol=args.cg_tol, return_info=True)

        rows = [
            ("apply", dense_apply, spec_apply, cg_apply),
            (
                "rownorms",
                lambda n=n: th.row_norms_by_order(n, s2, method="dense"),
                lambda n=n: th.row_norms_by_order(n, s2, method="spectral"),  # one solve per order
                lambda n=n: (th.row_norms_by_order(n, s2, method="cg"), None),
            ),
        ]
        for task, dense_fn, spec_fn, cg_fn in rows:
            if task == "rownorms":
                t_sym, sym = _median_ms(lambda n=n: th.row_norms_by_order(n, s2), repeats)
            else:
                t_sym, sym = None, None
            t_spec, spec = _median_ms(spec_fn, repeats)
            t_cg, (cg, info) = _median_ms(cg_fn, repeats)
            iters = str(info.iterations) if info is not None else "-"
            err_cg = f"{(cg - spec).abs().max().item():.1e}"
            if n <= max_dense:
                t_dense, dense = _median_ms(dense_fn, max(1, repeats if n < 12 else 1))
                cols = (
                    f"{t_dense:10.1f} {t_spec:12.2f} {t_cg:10.1f} {iters:>6} "
                    f"{t_dense / t_spec:11.0f} {t_dense / t_cg:9.1f} "
                    f"{(spec - dense).abs().max().item():16.1e} {err_cg:>13}"
                )
            else:
                cols = (
                    f"{'-':>10} {t_spec:12.2f} {t_cg:10.1f} {iters:>6} {'-':>11} {'-':>9} "
                    f"{'-':>16} {err_cg:>13}"
                )
            if t_sym is None:
                cols += f" {'-':>8} {'-':>19}"
            else:
                rel = ((sym - spec).abs() / spec).max().item()
                cols += f" {t_sym:8.2f} {rel:19.1e}"
            print(f"{n:>3} {task:<9} {cols}", flush=True)


if __name__ == "__main__":
    main()
