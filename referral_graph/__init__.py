"""referral_graph: healthcare referral networks, built, scored and shown safely.

The package mirrors the pipeline: :mod:`~referral_graph.io` reads tables,
:mod:`~referral_graph.validate` checks them, :mod:`~referral_graph.aggregate`
turns events into an edge panel, :mod:`~referral_graph.graph` builds a
``networkx.DiGraph``; later steps score, predict and render it.

The submodules named in ``__all__`` (and :func:`load_network`,
:class:`ReferralNetwork`) are imported on first use (``rg.report``), so that a
command imports only what it runs: ``referral-graph build`` loads neither the
report nor the scores.

Examples
--------
>>> import referral_graph as rg
>>> isinstance(rg.__version__, str), rg.graph.__name__
(True, 'referral_graph.graph')
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from referral_graph._version import __version__
from referral_graph.exceptions import ReferralGraphError

if TYPE_CHECKING:
    from referral_graph import aggregate, graph, io, privacy, report, scores, store, validate
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

_SUBMODULES = frozenset(
    {"aggregate", "graph", "io", "privacy", "report", "scores", "store", "validate"}
)
_FROM_PIPELINE = frozenset({"ReferralNetwork", "load_network"})


def __getattr__(name: str) -> Any:
    """The submodules of ``__all__`` and the pipeline's names, imported on first use."""
    if name in _SUBMODULES:
        return importlib.import_module(f"referral_graph.{name}")
    if name in _FROM_PIPELINE:
        return getattr(importlib.import_module("referral_graph.pipeline"), name)
    raise AttributeError(f"module 'referral_graph' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
