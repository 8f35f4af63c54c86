"""masked_rewards / evaluate_all_masks against oracles: bit order, endpoints, planted AND models."""

import itertools

import pytest
import torch
from torch import nn

from tests.helpers.fake_text import SENTENCES, tokenize
from twophase.game.masking import evaluate_all_masks, masked_inputs, masked_rewards
from twophase.game.players import ClusterPlayers, FeatureMaskPlayers, PatchPlayers, WordPlayers
from twophase.game.rewards import Reward, compute_reward
from twophase.interactions.transforms import and_interactions


def blobs(bsz, per, k, seed):
    gen = torch.Generator().manual_seed(seed)
    centers = 10 * torch.randn(bsz, k, 3, generator=gen)
    pts = centers.repeat_interleave(per, 1) + 0.1 * torch.randn(bsz, k * per, 3, generator=gen)
    return pts[:, torch.randperm(k * per, generator=gen)]


class WeightedSum(nn.Module):
    """Single-logit tail z = sum_i w_i x_i."""

    def __init__(self, weights):
        super().__init__()
        self.register_buffer("w", weights)

    def forward(self, x):
        return (x * self.w).sum(-1, keepdim=True)


def test_bit_convention_reward_equals_mask_index():
    n = 6
    x = torch.ones(2, n)
    players = FeatureMaskPlayers(torch.arange(n))
    tail = WeightedSum(2.0 ** torch.arange(n))
    v = masked_rewards(tail, x, players, torch.tensor([1, 1]))
    assert v.dtype == torch.float64 and v.shape == (2, 1 << n)
    assert torch.equal(v, torch.arange(1 << n, dtype=torch.float64).expand(2, -1))
    # mask 1 => only player 0 present
    assert masked_inputs(x, players, [1]).tolist() == [[[1.0, 0, 0, 0, 0, 0]]] * 2
    # label 0 flips the sign of a single-logit model
    v0 = masked_rewards(tail, x, players, 0)
    assert torch.equal(v0, -v)


class SmallCNNTail(nn.Module):
    def __init__(self, channels=3, classes=4):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(channels, 5, 3, padding=1), nn.ReLU(), nn.Dropout(0.5),
            nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(20, classes),
        )

    def forward(self, x):
        return self.net(x)


def test_endpoints_chunking_and_eval_mode_restored():
    torch.manual_seed(0)
    tail = SmallCNNTail().double()
    tail.train()
    x = torch.rand(3, 3, 16, 16, dtype=torch.float64)
    y = torch.tensor([0, 3, 1])
    players = PatchPlayers(grid=8, n=5, seed=2)
    v = masked_rewards(tail, x, players, y, batch_size=7)
    assert tail.training and all(m.training for m in tail.modules())  # flags restored
    tail.eval()
    with torch.no_grad():
        v_full = compute_reward(tail(x), y)
        v_empty = compute_reward(tail(players.bind(x).mask(x, [0])[:, 0]), y)
    torch.testing.assert_close(v[:, -1], v_full, rtol=0, atol=1e-12)
    torch.testing.assert_close(v[:, 0], v_empty, rtol=0, atol=1e-12)
    for kwargs in ({}, {"batch_size": 1000}, {"memory_budget_bytes": 3 * 16 * 16 * 25 * 5}):
        torch.testing.assert_close(masked_rewards(tail, x, players, y, **kwargs), v,
                                   rtol=0, atol=1e-12)
    logit = masked_rewards(tail, x, players, y, reward=Reward.LOGIT, batch_size=11)
    with torch.no_grad():
        torch.testing.assert_close(logit[:, -1], tail(x).gather(1, y[:, None])[:, 0])


class PlantedPolynomialTail(nn.Module):
    """Logits (f, 0) with f = c0 + sum_T c_T prod_{i in T} s_i, s_i = sum of player i's patch.

    With baseline 0 an absent patch has s_i = 0, so the log-odds of class 0 is f and its AND
    interactions are exactly I(T) = c_T prod_{i in T} s_i(x) (0 for unplanted T),
    I(empty) = c0 + the non-player term, which is the same for every mask.
    """

    def __init__(self, owner_map, n, terms, c0):
        super().__init__()
        self.register_buffer("owner", owner_map)
        self.n, self.terms, self.c0 = n, terms, c0

    def forward(self, x):
        s = torch.stack([(x * (self.owner == i)).sum(dim=(1, 2, 3)) for i in range(self.n)], 1)
        rest = (x * (self.owner < 0)).sum(dim=(1, 2, 3))
        f = self.c0 + 0.1 * rest
        for mask, c in self.terms.items():
            f = f + c * torch.prod(
                torch.stack([s[:, i] for i in range(self.n) if mask >> i & 1], 1), dim=1)
        return torch.stack([f, torch.zeros_like(f)], 1)


def test_planted_and_model_recovers_coefficients():
    n = 5
    players = PatchPlayers(grid=4, n=n, seed=0, border=0)
    x = torch.rand(2, 2, 8, 8, dtype=torch.float64)
    terms = {0b00001: 0.7, 0b00110: -1.3, 0b10101: 0.4, 0b11111: 0.05}
    tail = PlantedPolynomialTail(players.owner_map(8, 8), n, terms, c0=0.5)
    v = masked_rewards(tail, x, players, torch.tensor([0, 0]), batch_size=13)
    interactions = and_interactions(v)
    s = players.bind(x).membership.mul(x.unsqueeze(1)).sum(dim=(2, 3, 4))  # (B, n) patch sums
    rest = (x * (players.owner_map(8, 8) < 0)).sum(dim=(1, 2, 3))
    expected = torch.zeros(2, 1 << n, dtype=torch.float64)
    expected[:, 0] = 0.5 + 0.1 * rest
    for mask, c in terms.items():
        expected[:, mask] = c * s[:, [i for i in range(n) if mask >> i & 1]].prod(1)
    torch.testing.assert_close(interactions, expected, rtol=1e-9, atol=1e-10)
    # independent oracle for the transform: explicit inclusion-exclusion on one subset
    S = 0b10101  # noqa: N806 - the coalition S of the papers (s holds the patch sums)
    direct = sum((-1) ** (bin(S).count("1") - bin(T).count("1")) * v[0, T]
                 for T in range(1 << n) if T & ~S == 0)
    torch.testing.assert_close(direct, expected[0, S], rtol=1e-9, atol=1e-10)


class ToyText(nn.Module):
    """A tiny SplitModel over tokens: front = identity, tail = masked mean embedding -> linear."""

    player_kind = "word"

    def __init__(self, vocab=1200, dim=8, classes=2):
        super().__init__()
        self.emb = nn.Embedding(vocab, dim)
        self.out = nn.Linear(dim, classes)
        self.front_calls = 0

    def front(self, input_ids):
        self.front_calls += 1
        return input_ids

    def tail(self, input_ids, attention_mask):
        e = self.emb(input_ids) * attention_mask.unsqueeze(-1)
        return self.out(e.sum(1) / attention_mask.sum(1, keepdim=True))

    def forward(self, input_ids, attention_mask):
        return self.tail(self.front(input_ids), attention_mask)


def test_word_players_end_to_end_with_aux():
    torch.manual_seed(0)
    model = ToyText()
    ids, word_ids = tokenize(SENTENCES, length=16)
    attention = (ids != 0).long()
    players = WordPlayers(n=4, mask_token_id=103)
    y = torch.tensor([1, 0])
    v = evaluate_all_masks(model, ids, players, y, aux={"attention_mask": attention},
                           player_context={"word_ids": word_ids, "words": SENTENCES},
                           batch_size=5)
    assert model.front_calls == 1
    bound = players.bind(ids, word_ids=word_ids, words=SENTENCES)
    with torch.no_grad():
        for mask in (0, 5, 15):
            masked = masked_inputs(ids, bound, [mask])[:, 0]
            ref = compute_reward(model.tail(masked, attention_mask=attention), y)
            torch.testing.assert_close(v[:, mask], ref.double(), rtol=1e-6, atol=1e-6)
    assert (masked_inputs(ids, bound, [0])[:, 0] == 103).sum(1).tolist() == [
        int(bound.membership[b].any(0).sum()) for b in range(2)]


def test_cluster_players_end_to_end_additive_model():
    """A tail summing per-point norms is additive over clusters: no AND interaction of
    order >= 2."""
    pts = blobs(2, 6, 6, seed=1).double()
    players = ClusterPlayers(n_clusters=6, n=3, seed=0)

    def tail(p):
        return p.norm(dim=-1).sum(-1, keepdim=True)

    v = masked_rewards(tail, pts, players, 1)
    interactions = and_interactions(v)
    orders = torch.tensor([bin(m).count("1") for m in range(8)])
    assert interactions[:, orders >= 2].abs().max() < 1e-9
    assert interactions[:, orders == 1].abs().min() > 1e-6  # every cluster moves the output


def test_errors_are_clear():
    x = torch.rand(2, 3, 16, 16)
    tail = SmallCNNTail()
    with pytest.raises(ValueError, match="\\(B, C, H, W\\)"):
        masked_rewards(tail, x[:, 0], PatchPlayers(n=3), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="shape \\(2,\\)"):
        masked_rewards(tail, x, PatchPlayers(n=3), torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match="raise memory_budget_bytes or pass batch_size"):
        masked_rewards(tail, x, PatchPlayers(n=3), torch.tensor([0, 1]), memory_budget_bytes=1000)
    with pytest.raises(ValueError, match="n=21 players need 2\\^21"):
        masked_rewards(tail, torch.zeros(1, 21), FeatureMaskPlayers(torch.arange(21)), 0)
    with pytest.raises(ValueError, match="leading dimension B=2"):
        masked_rewards(tail, x, PatchPlayers(n=3), torch.tensor([0, 1]),
                       aux={"attention_mask": torch.ones(3, 4)})
    with pytest.raises(ValueError, match="unknown reward 'prob'; valid values: 'log-odds'"):
        masked_rewards(tail, x, PatchPlayers(n=3), torch.tensor([0, 1]), reward="prob")
    with pytest.raises(ValueError, match="valid labels are 0..3"):
        masked_rewards(tail, x, PatchPlayers(n=3), torch.tensor([0, 4]))
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        masked_rewards(tail, x, PatchPlayers(n=3), torch.tensor([0, 1]), batch_size=0)

    def nan_tail(z):
        out = z.flatten(1)[:, :2].clone()
        out[z.flatten(1)[:, 3] > 0.5] = float("nan")  # non-player element: all of sample 1
        return out

    feats = torch.stack([torch.zeros(4), torch.ones(4)])
    with pytest.raises(ValueError, match="in 1 of 2 samples \\(sample 1: 8 masks\\)"):
        masked_rewards(nan_tail, feats, FeatureMaskPlayers(torch.tensor([0, 1, 2, -1])), 0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_gpu_matches_cpu():
    torch.manual_seed(0)
    tail = SmallCNNTail().double()
    x = torch.rand(2, 3, 16, 16, dtype=torch.float64)
    players = PatchPlayers(n=4)
    v_cpu = masked_rewards(tail, x, players, torch.tensor([0, 1]))
    v_gpu = masked_rewards(tail.cuda(), x.cuda(), players, torch.tensor([0, 1]))
    assert v_gpu.device.type == "cuda"
    torch.testing.assert_close(v_gpu.cpu(), v_cpu)


def test_subset_enumeration_matches_itertools():
    """Each column m of the output is the copy with exactly the players of bitmask m present."""
    n = 4
    x = torch.arange(1, n + 1, dtype=torch.float64).expand(1, n)
    tail = WeightedSum(torch.tensor([1.0, 10.0, 100.0, 1000.0], dtype=torch.float64))
    v = masked_rewards(tail, x, FeatureMaskPlayers(torch.arange(n)), 1)
    for k in range(n + 1):
        for subset in itertools.combinations(range(n), k):
            mask = sum(1 << i for i in subset)
            assert v[0, mask] == sum((i + 1) * 10.0**i for i in subset)


def _peak_of_call(fn):
    """Peak bytes of the tensors created during ``fn()`` and alive together, as the masking's own
    probe counts them, over the whole call."""
    from twophase.game.masking import _PeakBytes

    with _PeakBytes() as meter:
        fn()
    return meter.peak


def test_the_memory_budget_bounds_the_whole_call(budget_mb=8):
    """A tail whose activations are much larger than its input (a point-cloud network building
    k-NN edge features): the budget bounds inputs, copies and activations together. Sizing the
    chunks by the input bytes alone (the former rule) overshoots the same budget many times."""
    from twophase.game.masking import bytes_per_copy
    from twophase.models import build_model

    torch.manual_seed(0)
    model = build_model("dgcnn", num_classes=3, k=8, dims=(16, 16, 32, 32), emb=64,
                        head_dims=(32, 16)).eval()
    pts = blobs(2, 16, 6, seed=1)  # 2 clouds of 96 points
    players = ClusterPlayers(n_clusters=6, n=6, seed=0)
    with torch.no_grad():
        feats = model.front(pts)
    bound = players.bind(feats)
    budget = budget_mb * 2**20

    def run(**kw):
        return masked_rewards(model.tail, feats, bound, torch.tensor([0, 1]), **kw)

    v = run(memory_budget_bytes=budget)
    peak = _peak_of_call(lambda: run(memory_budget_bytes=budget))
    fixed = sum(t.untyped_storage().nbytes() for t in (feats, bound.owner, bound.baseline))
    assert 0.3 * budget < fixed + peak <= budget, (fixed + peak) / budget  # bounded, and used
    old_rule = budget // bytes_per_copy(feats, bound)
    assert _peak_of_call(lambda: run(batch_size=old_rule)) > 2 * budget
    torch.testing.assert_close(run(batch_size=old_rule), v, rtol=0, atol=1e-5)  # float32 tail


def test_a_budget_below_the_inputs_is_a_clear_error():
    tail = SmallCNNTail()
    x = torch.rand(2, 3, 16, 16)
    with pytest.raises(ValueError, match=r"inputs and output of this call need [\d,]+ bytes"):
        masked_rewards(tail, x, PatchPlayers(n=3), torch.tensor([0, 1]), memory_budget_bytes=4096)
