"""The package version, from its installed metadata (private; ``referral_graph.__version__``)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

__all__ = ["__version__"]

try:
    __version__ = version("referral_graph")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"
