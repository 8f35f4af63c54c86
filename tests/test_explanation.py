"""twophase.explain (twophase.explanation): a user's model -> players -> masked rewards ->
certified canonical AND-OR split -> per-order strength and figure; a planted AND/OR structure is
recovered."""

from __future__ import annotations

import matplotlib
import pytest
import torch
from torch import nn

import twophase
from twophase.explanation import Explanation
from twophase.game.players import PatchPlayers

matplotlib.use("Agg")

#: the planted game on 5 binary features: 3 AND(0, 1) + 2 OR(2, 3) - 1.5 AND(1, 4)
AND_01, OR_23, AND_14 = 0b00011, 0b01100, 0b10010


def _planted(x: torch.Tensor) -> torch.Tensor:
    return (3 * x[:, 0] * x[:, 1] + 2 * torch.maximum(x[:, 2], x[:, 3])
            - 1.5 * x[:, 1] * x[:, 4])


class TwoClass(nn.Module):
    """logits ``[0, g(x)]``: the log-odds of class 1 is ``g``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        g = _planted(x)
        return torch.stack([torch.zeros_like(g), g], dim=-1)


@pytest.mark.parametrize("model", [TwoClass(), _planted], ids=["two-class", "single-logit"])
def test_a_planted_and_or_structure_is_recovered(model):
    x = torch.ones(1, 5, dtype=torch.float64)
    e = twophase.explain(model, x, torch.arange(5), baseline=0.0, q_bound=0.0)
    assert isinstance(e, Explanation) and e.n == 5 and e.certified
    assert e.target.tolist() == [1]  # the predicted class: g(x) = 3.5 > 0
    assert e.v[0, -1].item() == pytest.approx(3.5) and e.v[0, 0].item() == pytest.approx(0.0)
    expected_and = torch.zeros(32, dtype=torch.float64)
    expected_and[AND_01], expected_and[AND_14] = 3.0, -1.5
    expected_or = torch.zeros(32, dtype=torch.float64)
    expected_or[OR_23] = 2.0
    torch.testing.assert_close(e.I_and[0], expected_and, atol=1e-6, rtol=0)
    torch.testing.assert_close(e.I_or[0], expected_or, atol=1e-6, rtol=0)
    pos, neg = e.order_strength()
    torch.testing.assert_close(pos[0], torch.tensor([0, 5.0, 0, 0, 0], dtype=pos.dtype))
    torch.testing.assert_close(neg[0], torch.tensor([0, -1.5, 0, 0, 0], dtype=neg.dtype))


def test_salient_lists_the_planted_terms_strongest_first():
    x = torch.ones(2, 5, dtype=torch.float64)
    table = twophase.explain(TwoClass(), x, torch.arange(5), baseline=0.0, q_bound=0.0).salient()
    assert list(table.columns) == ["sample", "target", "kind", "players", "order", "value"]
    for b in (0, 1):
        rows = table[table["sample"] == b]
        assert list(zip(rows["kind"], rows["players"], rows["order"], strict=True)) == [
            ("AND", "0,1", 2), ("OR", "2,3", 2), ("AND", "1,4", 2)]
        assert rows["value"].tolist() == pytest.approx([3.0, 2.0, -1.5], abs=1e-6)
        assert set(rows["target"]) == {1}


def test_with_the_papers_q_bound_the_planted_terms_dominate():
    x = torch.ones(3, 5)
    e = twophase.explain(TwoClass(), x, torch.arange(5), target=1)
    assert e.certified and e.reward == "log-odds"
    for b in range(3):
        coeffs = torch.cat([e.I_and[b], e.I_or[b]])
        top = coeffs.abs().topk(3).indices.tolist()
        assert sorted(top) == sorted([AND_01, AND_14, 32 + OR_23])
        assert (coeffs.abs().sum() - 6.5).abs() < 0.2  # q absorbs at most 2 % of |v(N) - v({})|


def test_grouped_features_baseline_tensor_and_figure():
    x = torch.tensor([[1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 7.0], [1.0, 0.5, 1.0, 1.0, 1.0, 1.0, 7.0]])

    def model(inputs):  # feature 6 is no player: its value never changes
        g = 3 * inputs[:, 0] * inputs[:, 2] + inputs[:, 4] + 0 * inputs[:, 6]
        return torch.stack([-g, g], dim=-1)

    mask = torch.tensor([0, 0, 1, 1, 2, 2, -1])  # 3 players of 2 features each
    e = twophase.explain(model, x, mask, baseline=torch.zeros(7), target=[1, 1])
    assert e.n == 3 and e.certified and e.v.shape == (2, 8)
    torch.testing.assert_close(e.v[:, -1], 2 * (3 * x[:, 0] * x[:, 2] + x[:, 4]).double())
    fig = e.figure(title="planted")
    assert [ax.get_title() for ax in fig.axes if ax.get_visible()] == [
        "sample 0 (target 1)", "sample 1 (target 1)"]


def test_errors_say_what_is_expected():
    with pytest.raises(ValueError, match=r"batch dimension; for one sample pass x\[None\]"):
        twophase.explain(TwoClass(), torch.ones(5), torch.arange(5))
    players = PatchPlayers(grid=4, n=2, border=0)
    with pytest.raises(ValueError, match="a Players object carries its own baseline"):
        twophase.explain(TwoClass(), torch.ones(1, 1, 4, 4), players, baseline=0.0)
    with pytest.raises(ValueError, match="reward"):
        twophase.explain(TwoClass(), torch.ones(1, 5), torch.arange(5), reward="accuracy")


def test_explain_is_a_public_name_and_stays_callable_after_the_module_is_imported():
    import twophase.explanation  # importing the module must not shadow the function

    assert callable(twophase.explain) and twophase.explain is twophase.explanation.explain
    assert "explain" in twophase.__all__ and "Explanation" in twophase.__all__
