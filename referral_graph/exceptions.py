"""The exceptions raised by referral_graph.

Every exception derives from :class:`ReferralGraphError`, and also from the
builtin exception a Python user would expect, so that ``except ValueError``
keeps working::

    ReferralGraphError(Exception)
    ├── InputError(ReferralGraphError, OSError)      a file cannot be read
    ├── SchemaError(ReferralGraphError, ValueError)  required columns missing or unusable
    ├── ValidationError(ReferralGraphError, ValueError)  rows failed validation
    ├── ParameterError(ReferralGraphError, ValueError)   a function argument is out of range
    ├── InsufficientDataError(ReferralGraphError, ValueError)  the data cannot answer the question
    ├── NotFittedError(ReferralGraphError, AttributeError)  a model used before ``fit``
    └── DependencyError(ReferralGraphError, ImportError)  an optional package is missing

Examples
--------
>>> from referral_graph.exceptions import SchemaError, ReferralGraphError
>>> issubclass(SchemaError, ValueError) and issubclass(SchemaError, ReferralGraphError)
True
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from referral_graph.validate import ValidationReport

__all__ = [
    "DependencyError",
    "InputError",
    "InsufficientDataError",
    "NotFittedError",
    "ParameterError",
    "ReferralGraphError",
    "SchemaError",
    "StoreError",
    "ValidationError",
]


class ReferralGraphError(Exception):
    """Root of every error raised on purpose by referral_graph."""


class InputError(ReferralGraphError, OSError):
    """A file is missing, empty, or cannot be decoded."""


class SchemaError(ReferralGraphError, ValueError):
    """A table lacks a required column, or a column cannot be used as asked."""


class ValidationError(ReferralGraphError, ValueError):
    """Rows failed validation; ``report`` holds every problem found.

    Parameters
    ----------
    message : str
        The full, human-readable report.
    report : ValidationReport, optional
        The structured report, for programs.
    """

    def __init__(self, message: str, report: ValidationReport | None = None) -> None:
        super().__init__(message)
        self.report = report

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (str(self), self.report))


class ParameterError(ReferralGraphError, ValueError):
    """A function argument is of the wrong type or out of its range."""


class InsufficientDataError(ReferralGraphError, ValueError):
    """The data cannot answer the question (for example, no dates for a trend)."""


class StoreError(ReferralGraphError):
    """A referral store cannot be used as asked (in use, another secret, another version,
    not a store's file); also :class:`referral_graph.store.StoreError`."""


class NotFittedError(ReferralGraphError, AttributeError):
    """A model was used before ``fit`` was called."""


class DependencyError(ReferralGraphError, ImportError):
    """An optional package a feature needs is not installed; the message says how to install it.

    Examples
    --------
    >>> err = DependencyError("The Spark engine needs pyspark: pip install 'referral_graph[spark]'")
    >>> isinstance(err, ImportError)
    True
    """
