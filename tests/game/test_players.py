"""Players: masked copies change exactly the absent players' elements, to the baseline."""

import pytest
import torch

from tests.helpers.fake_text import SENTENCES, tokenize
from tests.helpers.oracles import masked_copies_where
from twophase.game.players import (
    Baseline,
    BoundPlayers,
    ClusterPlayers,
    FeatureMaskPlayers,
    PatchPlayers,
    WordPlayers,
    as_presence,
    grid_boundaries,
)
from twophase.interactions.subsets import presence_matrix


def oracle_masked(features, membership, baseline, present):
    """Reference x_S by explicit loops over samples, rows and players."""
    bsz, m = features.shape[0], present.shape[0]
    out = features.unsqueeze(1).repeat(1, m, *([1] * (features.dim() - 1))).clone()
    for b in range(bsz):
        for r in range(m):
            for i in range(membership.shape[1]):
                if not present[r, i]:
                    sel = membership[b, i]
                    out[b, r][sel] = baseline[b][sel]
    return out


def check_exact_masking(bound, features, seed=0):
    """Every masked copy: absent players at baseline, everything else untouched (bit-exact)."""
    n = bound.n
    gen = torch.Generator().manual_seed(seed)
    rows = torch.cat([torch.tensor([0, (1 << n) - 1]), torch.randint(1 << n, (6,), generator=gen)])
    present = as_presence(rows, n)
    got = bound.mask(features, present)
    membership = bound.membership
    assert membership.shape == (features.shape[0], n, *features.shape[1:])
    assert torch.equal(got, oracle_masked(features, membership, bound.baseline, present))
    # non-player elements never change
    free = ~membership.any(1)
    assert torch.equal(got[:, :, ...][free.unsqueeze(1).expand_as(got)],
                       features.unsqueeze(1).expand_as(got)[free.unsqueeze(1).expand_as(got)])
    # full mask = the sample, empty mask = baseline on all players
    assert torch.equal(got[:, 1], features)
    player = membership.any(1)
    assert torch.equal(got[:, 0][player], bound.baseline[player])
    return got


def test_grid_boundaries():
    assert grid_boundaries(28, 8) == [0, 3, 7, 10, 14, 17, 21, 24, 28]
    assert grid_boundaries(32, 8) == list(range(0, 33, 4))
    with pytest.raises(ValueError, match="cannot split"):
        grid_boundaries(5, 8)


def test_presence_bit_convention():
    assert as_presence([1], 3).tolist() == [[True, False, False]]
    assert as_presence([6], 3).tolist() == [[False, True, True]]
    assert torch.equal(as_presence(torch.arange(16), 4), presence_matrix(4))
    with pytest.raises(ValueError, match="bitmasks must lie"):
        as_presence([8], 3)


def test_patch_positions_fixed_central_and_seeded():
    a, b = PatchPlayers(seed=3), PatchPlayers(seed=3)
    assert a.positions == b.positions and len(set(a.positions)) == 10
    assert all(1 <= r <= 6 and 1 <= c <= 6 for r, c in a.positions)
    assert list(a.positions) == sorted(a.positions)
    assert any(PatchPlayers(seed=s).positions != a.positions for s in range(4, 8))
    assert len(PatchPlayers(grid=4, n=4, border=1).positions) == 4  # the whole central 2x2
    with pytest.raises(ValueError, match="only 4x4 = 16 cells"):
        PatchPlayers(grid=6, n=17)


@pytest.mark.parametrize("hw", [(16, 16), (28, 28), (13, 21)])
def test_patch_owner_map_and_exact_masking(hw):
    players = PatchPlayers(grid=8, n=6, seed=1)
    h, w = hw
    x = torch.rand(2, 3, h, w) + 0.5
    bound = players.bind(x)
    rb, cb = grid_boundaries(h, 8), grid_boundaries(w, 8)
    for i, (r, c) in enumerate(players.positions):
        cell = torch.zeros(h, w, dtype=torch.bool)
        cell[rb[r] : rb[r + 1], cb[c] : cb[c + 1]] = True
        assert torch.equal(bound.membership[1, i, 2], cell)
        assert bound.player_sizes()[0, i] == 3 * cell.sum()
    check_exact_masking(bound, x)


def test_patch_mean_baseline_is_per_sample_channel_mean():
    x = torch.rand(2, 4, 16, 16)
    bound = PatchPlayers(n=3, baseline=Baseline.MEAN).bind(x)
    torch.testing.assert_close(bound.baseline[:, :, 5, 7], x.mean(dim=(2, 3)))
    check_exact_masking(bound, x)
    assert PatchPlayers(n=3, baseline="zero").bind(x).baseline.abs().sum() == 0


def test_patch_shape_errors():
    with pytest.raises(ValueError, match="\\(B, C, H, W\\)"):
        PatchPlayers().bind(torch.zeros(2, 16, 16))
    with pytest.raises(ValueError, match="8x8 grid"):
        PatchPlayers().bind(torch.zeros(1, 1, 6, 20))


def test_word_players_choose_meaningful_words_with_all_pieces():
    players = WordPlayers(n=4, seed=0, mask_token_id=103)
    ids, word_ids = tokenize(SENTENCES, length=18)
    bound = players.bind(ids, word_ids=word_ids, words=SENTENCES)
    check_exact_masking(bound, ids)
    assert torch.equal(bound.baseline, torch.full_like(ids, 103))
    for b, sentence in enumerate(SENTENCES):
        chosen = players.choose(sentence)
        assert chosen == sorted(chosen) and len(set(chosen)) == 4
        for i, j in enumerate(chosen):
            word = sentence[j]
            assert word not in players.stop_words and any(ch.isalnum() for ch in word)
            positions = [t for t, w in enumerate(word_ids[b]) if w == j]
            assert bound.membership[b, i].nonzero().flatten().tolist() == positions
        assert not bound.membership[b, :, 0].any()  # [CLS] never a player
    assert "not" not in players.stop_words and "the" in players.stop_words


def test_word_players_depend_on_content_not_batch_position():
    players = WordPlayers(n=3, seed=5)
    ids, word_ids = tokenize(SENTENCES)
    rev_ids, rev_word_ids = tokenize(SENTENCES[::-1])
    a = players.bind(ids, word_ids=word_ids, words=SENTENCES).owner
    b = players.bind(rev_ids, word_ids=rev_word_ids, words=SENTENCES[::-1]).owner
    assert torch.equal(a, b.flip(0))
    seeds = {tuple(WordPlayers(n=3, seed=s).choose(SENTENCES[0])) for s in range(6)}
    assert len(seeds) > 1


def test_word_players_errors():
    ids, word_ids = tokenize([["the", "good", "film", "."]], length=8)
    with pytest.raises(ValueError, match="sample 0 has only 2 eligible words \\(need n=3\\)"):
        WordPlayers(n=3).bind(ids, word_ids=word_ids, words=[["the", "good", "film", "."]])
    with pytest.raises(TypeError, match="word alignment"):
        WordPlayers(n=1).bind(ids)


def test_word_players_from_fast_tokenizer():
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    texts = ["a wonderfully moving film , not boring", "the plot is dreadful and the acting worse"]
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.train_from_iterator(texts, trainers.WordPieceTrainer(
        vocab_size=60, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="[PAD]", mask_token="[MASK]")
    enc = fast(texts, padding=True, return_tensors="pt")
    players = WordPlayers(n=3, seed=0, mask_token_id=fast.mask_token_id)
    bound = players.bind_encoding(enc, texts)
    check_exact_masking(bound, enc["input_ids"])
    for b, text in enumerate(texts):
        for i in range(3):
            positions = bound.membership[b, i].nonzero().flatten().tolist()
            word_index = {enc.word_ids(b)[t] for t in positions}
            assert len(word_index) == 1
            span = enc.word_to_chars(b, word_index.pop())
            assert players.is_eligible(text[span.start : span.end])


def blobs(bsz, per, k, seed):
    gen = torch.Generator().manual_seed(seed)
    centers = 10 * torch.randn(bsz, k, 3, generator=gen)
    pts = centers.repeat_interleave(per, 1) + 0.1 * torch.randn(bsz, k * per, 3, generator=gen)
    return pts[:, torch.randperm(k * per, generator=gen)]


def test_cluster_players_centroid_baseline_and_determinism():
    pts = blobs(2, 12, 8, seed=0)
    players = ClusterPlayers(n_clusters=8, n=4, seed=0)
    bound = players.bind(pts)
    check_exact_masking(bound, pts)
    member = bound.membership[..., 0]  # (B, n, P): a point's 3 coordinates move together
    assert torch.equal(bound.membership, member.unsqueeze(-1).expand_as(bound.membership))
    for b in range(2):
        for i in range(4):
            sel = member[b, i]
            assert sel.sum() == 12  # well-separated blobs are recovered exactly
            torch.testing.assert_close(bound.baseline[b, sel], pts[b, sel].mean(0).expand(12, 3))
    fresh = ClusterPlayers(n_clusters=8, n=4, seed=0).bind(pts.flip(0))
    assert torch.equal(fresh.owner, bound.owner.flip(0))
    with pytest.raises(ValueError, match="cannot form 30 clusters"):
        ClusterPlayers().bind(pts[:, :20])
    with pytest.raises(ValueError, match="\\(B, P, D\\)"):
        ClusterPlayers(n_clusters=8, n=4).bind(pts[0])


def test_feature_mask_players_shared_and_per_sample():
    x = torch.randn(3, 2, 5)
    mask = torch.tensor([[0, 0, 1, -1, 2], [2, 1, 1, -1, 0]])
    bound = FeatureMaskPlayers(mask, baselines=torch.tensor(7.0)).bind(x)
    assert bound.n == 3 and bound.shared
    check_exact_masking(bound, x)
    per_sample = torch.stack([mask, mask.flip(-1), mask.roll(1, -1)])
    base = torch.randn(3, 2, 5)
    bound = FeatureMaskPlayers(per_sample, baselines=base).bind(x)
    assert not bound.shared
    check_exact_masking(bound, x)


def test_feature_mask_errors():
    with pytest.raises(ValueError, match="player 1"):
        FeatureMaskPlayers(torch.tensor([0, 0, 2, -1])).bind(torch.zeros(1, 4))
    with pytest.raises(ValueError, match=">= -1"):
        FeatureMaskPlayers(torch.tensor([0, -2]))
    with pytest.raises(TypeError, match="integer"):
        FeatureMaskPlayers(torch.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match="do not broadcast"):
        FeatureMaskPlayers(torch.tensor([0, 1, 2])).bind(torch.zeros(2, 4))


def test_bound_players_from_membership():
    membership = torch.zeros(1, 2, 4, dtype=torch.bool)
    membership[0, 0, :2] = True
    membership[0, 1, 3] = True
    bound = BoundPlayers.from_membership(membership, torch.zeros(1, 4))
    assert bound.owner.tolist() == [[0, 0, -1, 1]]
    assert torch.equal(bound.membership, membership)
    membership[0, 1, 1] = True
    with pytest.raises(ValueError, match="overlap"):
        BoundPlayers.from_membership(membership, torch.zeros(1, 4))
    with pytest.raises(ValueError, match="do not match the players"):
        bound.mask(torch.zeros(2, 4), [0])


def test_masked_copies_any_sample_order_matches_where_reference():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(3, 2, 6, generator=gen)
    per_sample = torch.randint(-1, 4, (3, 2, 6), generator=gen)
    per_sample[:, 0, :4] = torch.arange(4)  # every player present in every sample
    for mask in (torch.tensor([[0, 1, -1, 2, 3, 3]]), per_sample):
        bound = FeatureMaskPlayers(mask, baselines=torch.randn(3, 2, 6, generator=gen)).bind(x)
        sample_index = torch.tensor([2, 0, 2, 1, 0, 1, 2])
        present = torch.rand(7, 4, generator=gen) > 0.5
        got = bound.masked_copies(x, sample_index, present)
        assert torch.equal(got, masked_copies_where(bound, x, sample_index, present))
        for k, b in enumerate(sample_index.tolist()):
            single = bound.mask(x, present[k : k + 1])[b, 0]
            assert torch.equal(got[k], single)


def test_players_for_each_kind():
    from twophase.choices import ChoiceError
    from twophase.game.players import Baseline, PlayerKind, players_for

    cfg = dict(n=5, grid=6, border=1, clusters=12, baseline="mean", seed=3)
    patches = players_for(PlayerKind.PATCH, **cfg)
    assert isinstance(patches, PatchPlayers) and patches.baseline is Baseline.MEAN
    assert (patches.n, patches.grid, patches.border, patches.seed) == (5, 6, 1, 3)
    words = players_for("word", **cfg, mask_token_id=4)
    assert isinstance(words, WordPlayers) and words.mask_token_id == 4 and words.n == 5
    clusters = players_for("cluster", **cfg)
    assert isinstance(clusters, ClusterPlayers) and clusters.n_clusters == 12
    with pytest.raises(ValueError, match="mask_token_id"):
        players_for("word", **cfg)
    with pytest.raises(ChoiceError, match="unknown player kind 'pixel'"):
        players_for("pixel", **cfg)
