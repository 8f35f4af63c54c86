"""Throughput of batched masking: masked copies per second for a LeNet-like tail.

Players: 10 patches of an 8x8 grid on LeNet's first ReLU output (6 x 28 x 28, as in P1 App. A.2);
2^10 = 1024 masked copies per sample. Compares :func:`twophase.game.masking.masked_rewards` at
several chunk sizes with a naive reference in the same process that builds one masked copy at a time
(clone, zero the absent patches) and runs the tail on a batch of one, as the lab code does. The
naive loop runs on ``--naive-masks`` masks per sample and is checked to give the same rewards.

    python benchmarks/bench_masking.py                      # CPU (and CUDA if present)
    python benchmarks/bench_masking.py --device cpu --samples 4 --chunks 64 256 1024 4096
"""

from __future__ import annotations

import argparse
import json
import time

import torch
from torch import nn

from twophase.game.masking import masked_rewards
from twophase.game.players import PatchPlayers
from twophase.game.rewards import log_odds


class LeNetTail(nn.Module):
    """LeNet-5 after its first conv+ReLU: input (B, 6, 28, 28) -> logits (B, 10)."""

    def __init__(self, classes: int = 10) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
            nn.Linear(16 * 5 * 5, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
            nn.Linear(84, classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def naive_rewards(tail, features, players, target, masks):
    """One masked copy and one forward pass at a time (reference)."""
    _, _, h, w = features.shape
    slices = players.cell_slices(h, w)
    out = torch.empty(features.shape[0], len(masks), dtype=torch.float64)
    with torch.no_grad():
        for b in range(features.shape[0]):
            for j, m in enumerate(masks):
                x = features[b : b + 1].clone()
                for i, (rs, cs) in enumerate(slices):
                    if not (m >> i) & 1:
                        x[:, :, rs, cs] = 0
                out[b, j] = log_odds(tail(x).double(), target[b : b + 1]).item()
    return out


def bench_device(device: torch.device, args) -> dict:
    torch.manual_seed(0)
    tail = LeNetTail().to(device).eval()
    features = torch.relu(torch.randn(args.samples, 6, 28, 28, device=device))
    target = torch.randint(10, (args.samples,), device=device)
    players = PatchPlayers(grid=8, n=args.n, seed=0)
    copies = args.samples * (1 << args.n)
    result = {"device": str(device), "n": args.n, "samples": args.samples, "copies": copies,
              "threads": torch.get_num_threads(), "chunks": {}}
    masked_rewards(tail, features, players, target, batch_size=256)  # warm-up
    reference = None
    for chunk in args.chunks:
        times = []
        for _ in range(args.repeats):
            _sync(device)
            t0 = time.perf_counter()
            v = masked_rewards(tail, features, players, target, batch_size=chunk)
            _sync(device)
            times.append(time.perf_counter() - t0)
        best = min(times)
        result["chunks"][chunk] = copies / best
        print(f"[{device}] chunk {chunk:>6}: {copies / best:12.0f} masked copies/s "
              f"({best:.3f} s for {copies})")
        reference = v if reference is None else reference
        torch.testing.assert_close(v, reference, rtol=1e-5, atol=1e-5)
    masks = torch.randperm(1 << args.n)[: args.naive_masks].tolist()
    t0 = time.perf_counter()
    naive = naive_rewards(tail, features, players, target, masks)
    _sync(device)
    naive_time = time.perf_counter() - t0
    naive_rate = args.samples * len(masks) / naive_time
    torch.testing.assert_close(naive, reference[:, masks].cpu(), rtol=1e-5, atol=1e-5)
    best_chunk = max(result["chunks"], key=result["chunks"].get)
    result.update(naive=naive_rate, best_chunk=best_chunk,
                  speedup=result["chunks"][best_chunk] / naive_rate)
    print(f"[{device}] naive one-at-a-time: {naive_rate:12.0f} masked copies/s "
          f"({args.samples * len(masks)} copies in {naive_time:.2f} s); best batched (chunk "
          f"{best_chunk}) is {result['speedup']:.1f}x faster; rewards agree")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=["all", "cpu", "cuda"], default="all")
    parser.add_argument("--n", type=int, default=10)
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument("--chunks", type=int, nargs="+", default=[16, 64, 256, 1024, 4096])
    parser.add_argument("--naive-masks", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--json", help="write the results to this file")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    devices = []
    if args.device in ("all", "cpu"):
        devices.append(torch.device("cpu"))
    if args.device in ("all", "cuda") and torch.cuda.is_available():
        devices.append(torch.device("cuda"))
    elif args.device == "cuda":
        parser.error("no CUDA device available")
    results = [bench_device(d, args) for d in devices]
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
