"""A claim's verdict, its reason and the games that would decide a straddling interval."""

import numpy as np

from twophase.claims.registry import BOUNDARIES, CLAIMS, PHASE1, claim_spec
from twophase.claims.rule import Verdict
from twophase.claims.verdict import judge
from twophase.stats.bootstrap import Interval, bootstrap


def test_reproduced_contradicted_and_inconclusive_with_reasons():
    ok = judge(PHASE1, Interval(0.4, 0.2, 0.6), games=30)
    assert ok.verdict is Verdict.REPRODUCED and "papers' side" in ok.reason
    bad = judge(PHASE1, Interval(-0.4, -0.6, -0.2), games=30)
    assert bad.verdict is Verdict.CONTRADICTED and "other side" in bad.reason
    assert ok.cell == "reproduced: 0.4 [0.2, 0.6]"


def test_games_needed_follow_the_square_root_law():
    # value 0.1, half-width 0.2: the interval must shrink by 2 -> 4x the games
    c = judge(PHASE1, Interval(0.1, -0.1, 0.3), games=30)
    assert c.verdict is Verdict.INCONCLUSIVE and c.games_needed == 120
    assert "120 games" in c.reason
    # and the law holds on a real bootstrap: 4x the samples halve the interval (about)
    rng = np.random.default_rng(0)
    x = rng.normal(size=400)
    small = bootstrap(lambda idx: x[:100][idx].mean(), [np.arange(100)])
    large = bootstrap(lambda idx: x[idx].mean(), [np.arange(400)])
    assert 0.35 < large.half_width / small.half_width < 0.65


def test_an_untestable_claim_is_inconclusive_never_a_pass():
    at_first = judge(BOUNDARIES, Interval(0.0, 0.0, 0.0), games=30,
                     untestable="a boundary sits at the first checkpoint")
    assert at_first.verdict is Verdict.INCONCLUSIVE and "first checkpoint" in at_first.reason
    assert judge(BOUNDARIES, None, games=0).verdict is Verdict.INCONCLUSIVE
    open_ = judge(BOUNDARIES, Interval(0.0, -1.0, float("nan"), missing=0.3), games=30)
    assert open_.verdict is Verdict.INCONCLUSIVE and "30%" in open_.reason
    assert at_first.untestable("x").reason == "x"


def test_every_claim_has_a_key_a_source_and_a_page():
    assert [c.key for c in CLAIMS] == ["spindle", "phase1", "phase2", "boundaries", "jaccard",
                                       "flipped", "onsets", "theory"]
    assert all(c.source.startswith(("P1", "P2")) and c.page for c in CLAIMS)
    assert claim_spec("jaccard").rule.text == "< 0"
    try:
        claim_spec("nope")
    except KeyError as err:
        assert "valid: spindle" in str(err)
