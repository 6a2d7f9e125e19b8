"""Constants and small helpers shared by the centrality measures (private)."""

from __future__ import annotations

import logging
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from referral_graph._compact import CompactGraph

logger = logging.getLogger(__name__)

Distance = Literal["inverse", "hops"]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int32]
ObjectArray = npt.NDArray[np.object_]

#: Largest graph (number of providers) on which ``"auto"`` options run the costly exact
#: measures: exact betweenness, harmonic closeness, Burt's structural holes, care density.
AUTO_EXACT_LIMIT = 5_000
#: Number of sampled source providers for betweenness on graphs above `AUTO_EXACT_LIMIT`.
AUTO_SAMPLE_SOURCES = 256
#: Number of batches the sampled sources are split into to estimate the standard error.
_SE_BATCHES = 16


def _series(cg: CompactGraph, values: Any, name: str) -> pd.Series:
    return pd.Series(np.asarray(values, dtype=np.float64), index=cg.index(), name=name)
