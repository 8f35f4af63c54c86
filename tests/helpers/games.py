"""Games with known interactions, used as test oracles.

Sums of unanimity games and their OR twins."""

from __future__ import annotations

import torch


def unanimity_and(n: int, coefficients: dict[int, float], dtype=torch.float64) -> torch.Tensor:
    """v(S) = sum_T c_T * 1[T subset S]: its AND interactions are exactly c (and 0 elsewhere)."""
    masks = torch.arange(1 << n)
    v = torch.zeros(1 << n, dtype=dtype)
    for t, c in coefficients.items():
        v += c * ((masks & t) == t).to(dtype)
    return v


def unanimity_or(n: int, coefficients: dict[int, float], dtype=torch.float64) -> torch.Tensor:
    """v(S) = sum_{T != {}} c_T * 1[T meets S]: its OR interactions are exactly c (T non-empty)."""
    masks = torch.arange(1 << n)
    v = torch.zeros(1 << n, dtype=dtype)
    for t, c in coefficients.items():
        if t == 0:
            raise ValueError("OR unanimity games need a non-empty T")
        v += c * ((masks & t) != 0).to(dtype)
    return v


def random_sparse_coefficients(n: int, k: int, generator: torch.Generator) -> dict[int, float]:
    """k distinct non-empty masks with N(0, 1) coefficients."""
    masks = torch.randperm((1 << n) - 1, generator=generator)[:k] + 1
    values = torch.randn(k, generator=generator, dtype=torch.float64)
    return {int(m): float(c) for m, c in zip(masks, values, strict=True)}


def brute_force_and(v: torch.Tensor) -> torch.Tensor:
    """O(4^n) definition of the Harsanyi dividend, for n <= 6."""
    m = v.shape[-1]
    out = torch.zeros_like(v)
    for s in range(m):
        for t in range(m):
            if t & ~s == 0:
                out[..., s] += (-1) ** (bin(s).count("1") - bin(t).count("1")) * v[..., t]
    return out


def brute_force_or(v: torch.Tensor) -> torch.Tensor:
    """O(4^n) definition of the OR interaction, for n <= 6."""
    m = v.shape[-1]
    full = m - 1
    out = torch.zeros_like(v)
    out[..., 0] = v[..., 0]
    for s in range(1, m):
        for t in range(m):
            if t & ~s == 0:
                out[..., s] -= (-1) ** (bin(s).count("1") - bin(t).count("1")) * v[..., full ^ t]
    return out


def trained_mlp_games(n: int = 8, samples: int = 3, steps: tuple[int, ...] = (0, 300),
                      seed: int = 0) -> torch.Tensor:
    """Games of a real network: an MLP (64-32-10) trained with Adam on scikit-learn's digits for
    each number of ``steps`` (0 = the random initialisation); ``n`` central pixels are the players
    (masked to 0), ``v(S)`` = log-odds of the true class.  Returns ``(len(steps) * samples, 2**n)``
    float64."""
    from sklearn.datasets import load_digits

    g = torch.Generator().manual_seed(seed)
    x_np, y_np = load_digits(return_X_y=True)
    x = torch.tensor(x_np / 16.0, dtype=torch.float32)
    y = torch.tensor(y_np)
    torch.manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    pixels = torch.tensor([19, 20, 27, 28, 35, 36, 43, 44, 26, 29, 34, 37][:n])
    pick = torch.randperm(len(x), generator=g)[:samples]
    masks = torch.arange(1 << n)
    present = ((masks[:, None] >> torch.arange(n)) & 1).bool()  # (2**n, n)
    games, done = [], 0
    for target in sorted(steps):
        for _ in range(target - done):
            idx = torch.randint(len(x), (64,), generator=g)
            loss = torch.nn.functional.cross_entropy(net(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        done = target
        with torch.no_grad():
            for i in pick.tolist():
                copies = x[i].repeat(1 << n, 1)
                copies[:, pixels] = copies[:, pixels] * present
                z = net(copies).double()
                label = int(y[i])
                others = torch.cat([z[:, :label], z[:, label + 1:]], 1)
                games.append(z[:, label] - torch.logsumexp(others, 1))
    return torch.stack(games)
