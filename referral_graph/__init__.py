"""referral_graph: healthcare referral networks, built, scored and shown safely.

The package mirrors the pipeline: :mod:`~referral_graph.io` reads tables,
:mod:`~referral_graph.validate` checks them, :mod:`~referral_graph.aggregate`
turns events into an edge panel, :mod:`~referral_graph.graph` builds a
``networkx.DiGraph``; later steps score, predict and render it.

Examples
--------
>>> import referral_graph as rg
>>> isinstance(rg.__version__, str)
True
"""

from __future__ import annotations

from referral_graph import aggregate, graph, io, privacy, report, scores, store, validate
from referral_graph._version import __version__
from referral_graph.exceptions import ReferralGraphError
from referral_graph.pipeline import ReferralNetwork, load_network

__all__ = [
    "ReferralGraphError",
    "ReferralNetwork",
    "__version__",
    "aggregate",
    "graph",
    "io",
    "load_network",
    "privacy",
    "report",
    "scores",
    "store",
    "validate",
]
