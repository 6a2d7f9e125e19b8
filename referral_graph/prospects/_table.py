"""The prospect table (:func:`prospects`): candidates, scores, competitors, via, last activity."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

import numpy as np
import numpy.typing as npt
import pandas as pd

from referral_graph import _codes
from referral_graph._checks import (
    check_choice,
    check_float,
    check_focus_ids,
    check_frame,
    check_int,
)
from referral_graph.exceptions import SchemaError
from referral_graph.prospects._inputs import (
    KINDS,
    METHODS,
    FloatArray,
    IntArray,
    Method,
    _check_weights,
    _text_column,
    _ties_frame,
)
from referral_graph.prospects._network import _build_network, _candidates, _Network
from referral_graph.prospects._score import _score

logger = logging.getLogger("referral_graph.prospects")


def _ranked(
    source: IntArray, label: IntArray, names: npt.NDArray[np.object_], value: FloatArray
) -> tuple[pd.Series, pd.Series]:
    """Per source: the label with the largest summed value, and every label ("; "-joined).

    Labels are ordered by summed value (descending), then by name; `names` are
    the labels' names by code.
    """
    width = max(len(names), 1)
    group, pairs = pd.factorize(source * width + label)
    sums = np.bincount(group, weights=value, minlength=len(pairs))
    g_source, g_label = pairs // width, pairs % width
    used, used_code = np.unique(g_label, return_inverse=True)
    rank = np.empty(len(used), dtype=np.int64)
    rank[np.argsort(names[used], kind="stable")] = np.arange(len(used))
    order = np.lexsort((rank[used_code], -sums, g_source))
    g_source, labels = g_source[order], names[g_label[order]]
    starts = np.flatnonzero(np.r_[True, g_source[1:] != g_source[:-1]])
    index = pd.Index(g_source[starts])
    joined = ["; ".join(part) for part in np.split(labels, starts[1:])]
    return pd.Series(labels[starts], index=index), pd.Series(joined, index=index, dtype=object)


def _competitor_details(net: _Network, rows: IntArray) -> pd.DataFrame:
    """top_competitor, competitors and specialties of each row (missing when none)."""
    codes = net.competitor_ties
    codes = codes.loc[np.isin(codes["source"].to_numpy(), rows)]
    out = pd.DataFrame(index=pd.Index(rows, name="row"))
    if codes.empty:
        out["top_competitor"] = pd.Series(pd.NA, index=out.index, dtype="str")
        out["competitors"] = pd.Series(pd.NA, index=out.index, dtype="str")
        out["specialties"] = pd.Series(pd.NA, index=out.index, dtype="str")
        return out
    source = codes["source"].to_numpy(dtype=np.int64)
    referrals = codes["referrals"].to_numpy(dtype=np.float64)
    competitor = codes["competitor"].to_numpy(dtype=np.int64)
    top, joined = _ranked(source, competitor, net.competitors, referrals)
    # one label per specialty: the first spelling met among these ties
    key = codes["specialty_key"].to_numpy(dtype=np.int64)
    known = key >= 0
    specs = pd.Series(dtype=object)
    if bool(known.any()):
        first = pd.Series(key[known]).drop_duplicates()
        spelling = codes["specialty"].to_numpy(dtype=np.int64)[known]
        label_of_key = np.zeros(int(key.max()) + 1, dtype=np.int64)
        label_of_key[first.to_numpy()] = spelling[first.index.to_numpy()]
        names = net.spellings[label_of_key]
        _, specs = _ranked(source[known], key[known], names, referrals[known])
    out["top_competitor"] = top.reindex(out.index).astype("str")
    out["competitors"] = joined.reindex(out.index).astype("str")
    out["specialties"] = specs.reindex(out.index).astype("str")
    return out


def _last_active(panel: pd.DataFrame, ids: pd.Index, rows: IntArray) -> pd.Series:
    """The first day of the last month each of `rows` sent a referral in `panel` (else NaT)."""
    frame = check_frame(
        panel,
        "panel",
        "prospects",
        ["source", "target", "month", "referrals"],
        "build it with referral_graph.aggregate.edge_panel.",
    )
    months = pd.to_datetime(frame["month"], errors="coerce")
    if bool(months.isna().any()):
        raise SchemaError(
            f"The panel of prospects has {int(months.isna().sum())} row(s) without a valid month."
        )
    # panels are sorted by source: each run of equal sources is looked up once
    sources = frame["source"].astype("str")
    starts, run = _codes.runs(sources)
    source = _codes.codes(sources.iloc[starts], pd.Index(ids[rows]))[run]
    mine = np.flatnonzero(source >= 0)  # the panel rows sent by one of `rows`
    picked = months.iloc[mine]
    number = (picked.dt.year * 12 + picked.dt.month - 1).to_numpy(dtype=np.int64)
    last = np.full(len(rows), np.iinfo(np.int64).min)
    np.maximum.at(last, source[mine], number)
    found = last > np.iinfo(np.int64).min
    parts = pd.DataFrame(
        {"year": np.where(found, last // 12, 2000), "month": np.where(found, last % 12 + 1, 1)}
    ).assign(day=1)
    dates = pd.to_datetime(parts).astype("datetime64[ns]")
    return dates.where(found).reset_index(drop=True)


def prospects(
    ties: pd.DataFrame | None,
    providers: pd.DataFrame,
    focus_ids: Iterable[str],
    *,
    panel: pd.DataFrame | None = None,
    method: Method = "adamic_adar",
    top: int | None = None,
    loyal_threshold: float = 0.5,
    max_practice_size: int = 50,
    relation_weights: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Rank the providers who could become referral sources of the focus organisation.

    The definitions (market, loyalty, candidates, the projection and the
    score formulas) are in the module docstring (:mod:`referral_graph.prospects`).

    Parameters
    ----------
    ties : pandas.DataFrame or None
        Tie table (``source``, ``target``, ``referrals``), e.g. from
        :func:`referral_graph.aggregate.tie_table`. None to sum `panel`.
    providers : pandas.DataFrame
        ``id`` and, where known, ``name``, ``specialty``, ``organization``
        (``city`` is copied to the output when present).
    focus_ids : iterable of str
        The focus organisation's provider ids.
    panel : pandas.DataFrame, optional
        The monthly edge panel: used for the ties when `ties` is None, and for
        ``last_active`` (the last month the prospect sent any referral).
    method : {"adamic_adar", "common_neighbors", "jaccard", "resource_allocation"}
        The link-prediction measure.
    top : int, optional
        Keep the best `top` rows.
    loyal_threshold : float, default 0.5
        Share of wallet from which a referrer counts as loyal, in (0, 1].
    max_practice_size : int, default 50
        Largest organisation that counts as a practice, in [2, 100,000].
    relation_weights : mapping, optional
        Weights of the relations ``"referral"``, ``"co_referral"`` and
        ``"practice"`` (default 1 each; 0 switches one off).

    Returns
    -------
    pandas.DataFrame
        One row per prospect, best first: ``rank`` (int64, 1 = best), ``id``,
        ``name`` (when `providers` has names), ``kind``
        (``"competitor_referrer"`` or ``"second_degree"``), ``score``
        (float in [0, 1]), ``referrals_to_competitors`` (int64, market
        referrals to competitors), ``top_competitor`` and ``competitors``
        (organisations by volume, ``"; "``-joined), ``specialties`` (our
        specialties they send elsewhere), ``via`` (the practice, or the loyal
        referrer, that ties them to us; missing when none), ``via_id``,
        ``via_relation`` (``"referral"``, ``"co_referral"`` or ``"practice"``),
        ``openness``, the prospect's ``specialty``, ``organization`` and
        ``city`` when `providers` has them, and ``last_active`` with `panel`.
        Ties of score are ordered by volume to competitors, then id.

    Raises
    ------
    ParameterError
        If an argument is of the wrong type or out of range.
    SchemaError
        If a table lacks a required column.

    Examples
    --------
    A loyal referrer ``L1`` (all of its cardiology to us) shares a practice
    with ``C1``; ``C2`` only sends patients to the same rival cardiologist:

    >>> import pandas as pd
    >>> providers = pd.DataFrame({"id": ["F1", "X1", "L1", "C1", "C2"],
    ...     "name": ["Dr Ours", "Dr Rival", "Dr Loyal", "Dr One", "Dr Two"],
    ...     "specialty": ["Cardiology", "Cardiology", "Family", "Family", "Family"],
    ...     "organization": ["Ours", "Rival", "Oak", "Oak", None]})
    >>> ties = pd.DataFrame({"source": ["L1", "L1", "C1", "C2"],
    ...                      "target": ["F1", "X1", "X1", "X1"],
    ...                      "referrals": [30, 3, 10, 10]})
    >>> out = prospects(ties, providers, ["F1"], method="common_neighbors")
    >>> out[["rank", "id", "via", "via_relation"]].values.tolist()
    [[1, 'C1', 'Oak', 'practice'], [2, 'C2', 'Dr Loyal', 'co_referral']]
    >>> out["kind"].unique().tolist()
    ['competitor_referrer']
    >>> [round(s, 3) for s in out["score"]]
    [0.373, 0.105]
    """
    func = "prospects"
    providers = check_frame(
        providers, "providers", func, ["id"], "read it with referral_graph.io.read_providers."
    )
    ids = check_focus_ids(focus_ids, func)
    method_name = check_choice(method, "method", func, METHODS)
    threshold = check_float(loyal_threshold, "loyal_threshold", func, low=0, high=1, low_open=True)
    practice_size = check_int(max_practice_size, "max_practice_size", func, low=2, high=100_000)
    weights = _check_weights(relation_weights, func)
    if top is not None:
        top = check_int(top, "top", func, low=1, high=10**12)
    if panel is not None:
        check_frame(
            panel,
            "panel",
            func,
            ["source", "target", "month", "referrals"],
            "build it with referral_graph.aggregate.edge_panel.",
        )
    frame = _ties_frame(ties, panel, func)
    net = _build_network(frame, providers, ids, max_practice_size=practice_size, func=func)
    table = _prospect_table(net, method=method_name, weights=weights, loyal_threshold=threshold)
    rows = net.ids.get_indexer(pd.Index(table["id"])).astype(np.int64)
    if panel is not None and len(table):
        table["last_active"] = _last_active(panel, net.ids, rows).to_numpy()
    if "name" not in providers.columns:
        table = table.drop(columns="name")
    for column in ("specialty", "organization", "city"):
        if column in providers.columns:
            table[column] = _text_column(providers, column, net.first_row[rows]).to_numpy()
    if top is not None:
        table = table.head(top)
    logger.info(
        "%s: %d prospect(s) (%d competitor referrers, %d second degree)",
        func,
        len(table),
        int((table["kind"] == KINDS[0]).sum()),
        int((table["kind"] == KINDS[1]).sum()),
    )
    return table.reset_index(drop=True)


def _prospect_table(
    net: _Network, *, method: str, weights: Mapping[str, float], loyal_threshold: float
) -> pd.DataFrame:
    rows = _candidates(net)
    scores = _score(net, rows, method=method, weights=weights, loyal_threshold=loyal_threshold)
    comp = net.to_comp[rows]
    is_comp = comp > 0
    listed = is_comp | scores.loyal_link
    rows, comp, is_comp = rows[listed], comp[listed], is_comp[listed]
    score = scores.score[listed]
    via = scores.via[listed]
    via_relation = [r for r, keep in zip(scores.via_relation, listed, strict=True) if keep]
    details = _competitor_details(net, rows)
    # via: the practice's name when a practice colleague ties them to us, else the referrer's
    has_org = net.org.notna().to_numpy()[rows]
    practice = (np.asarray(via_relation, dtype=object) == "practice") & has_org
    missing = np.array([None], dtype=object)  # picked by via -1
    org_values = np.append(net.org.to_numpy(dtype=object), missing)
    name_values = np.append(net.names.to_numpy(dtype=object), missing)
    via_text = np.where(practice, org_values[rows], name_values[via])
    via_id = np.append(net.ids.to_numpy(dtype=object), missing)[via]
    table = pd.DataFrame(
        {
            "id": pd.Series(net.ids[rows], dtype="str"),
            "name": pd.Series(net.names.to_numpy()[rows], dtype="str"),
            "kind": pd.Series(np.where(is_comp, KINDS[0], KINDS[1]), dtype="str"),
            "score": score.astype(np.float64),
            "referrals_to_competitors": np.rint(comp).astype(np.int64),
            "top_competitor": details["top_competitor"].to_numpy(),
            "competitors": details["competitors"].to_numpy(),
            "specialties": details["specialties"].to_numpy(),
            "via": pd.Series(via_text, dtype="str"),
            "via_id": pd.Series(via_id, dtype="str"),
            "via_relation": pd.Series(via_relation, dtype="str"),
            "openness": net.openness[rows],
        }
    )
    for column in ("top_competitor", "competitors", "specialties"):
        table[column] = table[column].astype("str")
    table = table.sort_values(
        ["score", "referrals_to_competitors", "id"],
        ascending=[False, False, True],
        kind="stable",
        ignore_index=True,
    )
    table.insert(0, "rank", np.arange(1, len(table) + 1, dtype=np.int64))
    return table
