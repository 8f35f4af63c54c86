"""Every claim of a run on synthetic records whose answer is known: Jaccard falls or rises,
flipped samples use higher orders or not, theory and onsets return their numbers, and no verdict
is drawn from a model that does not fit its data."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch

from tests.helpers.records import fake_record, guarded_config
from twophase.claims import (
    Verdict,
    flipped_claims,
    jaccard_claims,
    onset_claims,
    run_claims,
    theory_claims,
    two_phase_claims,
)
from twophase.stats.orders import Orders

CONFIG = guarded_config()


def _record_with(train_and, test_and, n, flipped=None, epochs=(0, 1, 2)):
    """A record whose train/test samples hold the given AND interactions at every checkpoint."""
    base = fake_record(checkpoints=len(epochs), n=n)
    s_tr, s_te = len(train_and), len(test_and)
    inter = torch.stack([torch.cat([train_and, test_and])] * len(epochs)).double()
    labels = [i % 2 for i in range(s_tr)] + [i % 2 for i in range(s_te)]
    samples = pd.DataFrame({"index": range(s_tr + s_te),
                            "split": ["train"] * s_tr + ["test"] * s_te,
                            "label": labels, "true_label": labels,
                            "class": [str(x) for x in labels],
                            "flipped": flipped if flipped is not None else [False] * (s_tr + s_te)})
    v = torch.zeros_like(inter)
    v[..., -1] = 1.0
    return replace(base, epochs=torch.tensor(epochs), v=v, I_and=inter,
                   I_or=torch.zeros_like(inter), q=torch.zeros_like(inter), samples=samples,
                   objective=inter.abs().sum(-1), lower_bound=None, engine=None,
                   I_and_high=None, I_or_high=None, n=n)


def test_spindle_of_a_binomial_start_and_a_flat_one():
    record = fake_record(samples=16)
    tp = two_phase_claims(Orders.of(record), record.metrics)
    assert tp.spindle_peak.value == 2 and tp.spindle.verdict is Verdict.REPRODUCED  # C(4,k)
    flat = replace(record, I_and=record.I_and.clone(), I_or=torch.zeros_like(record.I_or))
    orders = torch.tensor([bin(m).count("1") for m in range(16)])
    flat.I_and[0][..., orders > 1] = 0
    flat_tp = two_phase_claims(Orders.of(flat), record.metrics)
    assert flat_tp.spindle.value == 0 and flat_tp.spindle.verdict is Verdict.CONTRADICTED


def test_jaccard_falls_with_the_order_or_rises():
    n = 6
    g = torch.Generator().manual_seed(0)
    orders = torch.tensor([bin(m).count("1") for m in range(1 << n)], dtype=torch.float64)
    common = torch.randn(1 << n, generator=g, dtype=torch.float64)
    # test interactions drift from the training ones more at high orders
    train = common + 0.05 * torch.randn(16, 1 << n, generator=g, dtype=torch.float64)
    test = common + orders * 0.4 * torch.randn(16, 1 << n, generator=g, dtype=torch.float64)
    falls = jaccard_claims(Orders.of(_record_with(train, test, n)))
    assert list(falls.similarity.index) == list(range(1, n + 1)) and falls.classes == 2
    assert falls.claim.value < -0.8 and falls.claim.verdict is Verdict.REPRODUCED
    assert falls.curve.value.shape == (n,)
    rising = common + (n + 1 - orders) * 0.4 * torch.randn(16, 1 << n, generator=g,
                                                           dtype=torch.float64)
    rises = jaccard_claims(Orders.of(_record_with(train, rising, n)))
    assert rises.claim.value > 0 and rises.claim.verdict is not Verdict.REPRODUCED


def test_flipped_samples_with_higher_orders_and_without():
    n = 4
    orders = torch.tensor([bin(m).count("1") for m in range(1 << n)], dtype=torch.float64)
    low = torch.where(orders == 1, 1.0, 0.0).double()
    high = torch.where(orders >= 3, 1.0, 0.0).double()
    mixed = torch.where(orders == 2, 1.0, 0.0).double()
    flipped = [True] * 6 + [False] * 10 + [False] * 4
    train = torch.stack([high] * 6 + [low] * 7 + [mixed] * 3)
    higher = flipped_claims(Orders.of(_record_with(train, torch.stack([low] * 4), n, flipped)))
    assert higher.claim.verdict is Verdict.REPRODUCED and higher.p_value < 0.05
    assert higher.rank_biserial.value == 1.0
    assert len(higher.flipped) == 6 and len(higher.clean) == 10
    same = flipped_claims(Orders.of(_record_with(torch.stack([low] * 16), torch.stack([low] * 4),
                                                 n, flipped)))
    assert same.claim.value == 0 and same.claim.verdict is Verdict.CONTRADICTED
    none = flipped_claims(Orders.of(_record_with(torch.stack([low] * 16), torch.stack([low] * 4),
                                                 n)))
    assert none.claim.verdict is Verdict.INCONCLUSIVE and "no flipped" in none.claim.reason


def test_onsets_and_theory_return_their_numbers():
    record = fake_record(samples=16)
    on = onset_claims(Orders.of(record), record.metrics)
    assert on.onsets.shape == (8,) and 0 <= on.share_with_onset <= 1
    th = theory_claims(Orders.of(record))
    cmp = th.comparison
    assert len(cmp.indices) >= 1 and (record.epochs[cmp.indices].numpy() >= cmp.start).all()
    assert th.claim.value == pytest.approx(float(cmp.monotone.error.double().mean()) / record.n)
    assert th.error_free <= th.claim.value + 1e-12


def test_no_verdict_from_a_model_that_does_not_fit():
    record = fake_record(samples=16)
    fitting = record.metrics.assign(train_acc=0.95)
    good = run_claims(CONFIG, record, fitting, theory=False)
    assert good.fit.fits and good.claims["phase1"].verdict is Verdict.REPRODUCED
    assert "flipped" in good.claims and "theory" not in good.claims
    bad = run_claims(CONFIG, record, record.metrics.assign(train_acc=0.5), theory=False)
    assert not bad.fit.fits
    assert all(c.verdict is Verdict.INCONCLUSIVE and "does not fit" in c.reason
               for c in bad.claims.values())
    assert bad.claims["phase1"].value > 0  # the numbers stay, only the verdicts go
    assert np.isfinite(bad.two_phase.mean_curve.value).all()
