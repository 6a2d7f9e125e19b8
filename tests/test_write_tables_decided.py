"""write_tables on tables suppressed together: what the joint step decides is what is written.

The tables in a sum with another (``ties`` and ``providers`` here) are decided by
``referral_graph._joint`` (their own partitions searched with the other tables' sums) and
written with those cells, without a second search: the files are checked against a
suppression worked out by hand.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pandas.testing import assert_frame_equal
from privacy_scan import scan_outputs

from referral_graph.scores import write_tables

NA = np.nan


def _market() -> dict[str, pd.DataFrame]:
    ties = pd.DataFrame(
        {
            "source": ["A", "A", "A", "B", "B", "B", "C", "C", "C"],
            "target": ["X", "Y", "Z", "X", "Y", "Z", "U", "V", "W"],
            "referrals": [5, 30, 40, 6, 35, 45, 1, 1, 9],
            "patients": [3, 12, 15, 4, 20, 25, 1, 1, 2],
            "volume": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9],
        }
    )
    providers = pd.DataFrame(
        {
            "id": ["A", "B", "C", "X", "Y", "Z", "U", "V", "W"],
            "out_strength": [75, 86, 11, 0, 0, 0, 0, 0, 0],
            "in_strength": [0, 0, 0, 11, 65, 85, 1, 1, 9],
        }
    )
    return {"ties": ties, "providers": providers}


def test_the_joint_tables_are_written_as_decided_by_hand(tmp_path):
    """By hand (threshold 11): A's 5 and B's 6 are small; each alone in its referrer's ties
    (out_strength shown) takes the referrer's smallest other tie with it (A's 30, B's 35);
    then A's {5, 30} and B's {6, 35} leave each from 1 to 10 open, and so do X's {5, 6}
    (sum 11) and Y's {30, 35} beside their in_strength. C's ties 1, 1 and 9 are small and
    have no shown tie to hide: its out_strength 11 would pin them down (11 - 2 < 10), so
    the joint step hides it. U's, V's and W's in_strength are small. ``volume`` follows the
    hidden referrals; ``patients`` hides its small cells only."""
    written = write_tables(_market(), tmp_path)
    ties = pd.read_csv(written["ties"][0])
    expected_ties = pd.DataFrame(
        {
            "source": ["A", "A", "A", "B", "B", "B", "C", "C", "C"],
            "target": ["X", "Y", "Z", "X", "Y", "Z", "U", "V", "W"],
            "referrals": [NA, NA, 40, NA, NA, 45, NA, NA, NA],
            "patients": [NA, 12, 15, NA, 20, 25, NA, NA, NA],
            "volume": [NA, NA, 0.3, NA, NA, 0.6, NA, NA, NA],
        }
    )
    assert_frame_equal(ties, expected_ties)
    providers = pd.read_csv(written["providers"][0])
    expected_providers = pd.DataFrame(
        {
            "id": ["A", "B", "C", "X", "Y", "Z", "U", "V", "W"],
            "out_strength": [75, 86, NA, 0, 0, 0, 0, 0, 0],
            "in_strength": [0, 0, 0, 11, 65, 85, NA, NA, NA],
        }
    )
    assert_frame_equal(providers, expected_providers)
    assert written.records["ties"] == {
        "threshold": 11,
        "hidden": {"referrals": 5, "patients": 5},
        "complementary": {"referrals": 2},
        "derived": {"volume": 7},
    }
    assert written.records["providers"] == {
        "threshold": 11,
        "hidden": {"in_strength": 3},
        "complementary": {"out_strength": 1},
        "derived": {},
    }
    # what each file leaves out, as other pages read it
    assert written.hidden["ties"]["referrals"].tolist() == [
        True, True, False, True, True, False, True, True, True
    ]  # fmt: skip
    assert (
        written.hidden["providers"]["out_strength"].tolist() == [False] * 2 + [True] + [False] * 6
    )
    problems, _ = scan_outputs(tmp_path)
    assert problems == []


def test_the_joint_tables_are_written_alike_at_other_thresholds(tmp_path):
    """By hand (threshold 5): only C's 1 and 1 are small; their sum, 2, says each is 1, so
    C's 9 is hidden with them. C's out_strength then leaves each of the three from 1 to 9
    open (11 - 2 >= 4) and stays shown, but W's in_strength, 9, is its one hidden tie: the
    joint step hides it."""
    written = write_tables(_market(), tmp_path, threshold=5)
    ties = pd.read_csv(written["ties"][0])
    assert ties["referrals"].isna().tolist() == [False] * 6 + [True] * 3
    providers = pd.read_csv(written["providers"][0])
    assert providers["out_strength"].isna().sum() == 0
    assert providers["in_strength"].isna().tolist() == [False] * 6 + [True] * 3
    assert written.records["ties"]["complementary"] == {"referrals": 1}
    assert written.records["providers"]["complementary"] == {"in_strength": 1}


def test_the_suppression_decided_while_the_communities_are_computed_is_the_one_written(
    tmp_path,
):
    """The report decides the joint suppression on the tables score_network hands over
    before the communities (its `meanwhile`). Oracle: write_tables deciding it on the
    final tables itself; the files are the same bytes."""
    from referral_graph import datasets, pipeline
    from referral_graph._joint import joint_suppression
    from referral_graph.leakage import resolve_focus
    from referral_graph.scores import score_network

    paths = datasets.sample_paths()
    net = pipeline.load_network(events=paths["events"], providers=paths["providers"])
    ids = resolve_focus(net.providers, focus=datasets.SAMPLE_FOCUS)
    handed: dict[str, pd.DataFrame] = {}
    scores = score_network(net, focus_ids=ids, meanwhile=handed.update)
    assert set(handed) == set(scores) - {"communities"}
    assert "community" not in handed["providers"] and "community" in scores["providers"]
    early = joint_suppression(handed, 11)
    assert early and any(mask.any() for cols in early.values() for mask in cols.values())
    by_itself = write_tables(scores, tmp_path / "by_itself")
    with_early = write_tables(scores, tmp_path / "early", joint=early)
    assert by_itself.suppression == with_early.suppression
    for name in scores:
        assert (tmp_path / "early" / f"{name}.csv").read_bytes() == (
            tmp_path / "by_itself" / f"{name}.csv"
        ).read_bytes(), name
