"""Shared fixtures: the real public data folder, small hand-checkable inputs, helpers."""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from referral_graph.npi import npi_check_digit

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def make_npi(first_nine: str) -> str:
    """A valid NPI (correct Luhn check digit) from nine digits."""
    return first_nine + str(npi_check_digit(first_nine))


#: Valid NPIs for hand-made fixtures (two are real published examples).
NPI_A = "1234567893"
NPI_B = "1003033051"
NPI_C = make_npi("100000000")
NPI_D = make_npi("200000001")
#: Ten digits starting with 1 but with a wrong check digit.
BAD_NPI = "1234567890"

#: A patient id that must never leave ingestion.
SECRET = "PATIENT-SECRET-123"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """A headless Debian Chromium driven by Playwright (skipped, with the reason, if absent).

    With ``REFERRAL_GRAPH_REQUIRE_BROWSER=1`` (set by ``.ci/run``) a missing browser fails.
    """
    import browser

    reason = browser.unavailable_reason()
    if reason is not None:
        if browser.browser_required():
            pytest.fail(f"{browser.REQUIRE_ENV}=1 but the browser cannot run: {reason}")
        pytest.skip(f"browser tests need Chromium and Playwright: {reason}")
    with browser.launch() as chromium_browser:
        yield chromium_browser


#: Set in CI: the Spark tests fail instead of skipping when Spark cannot run.
SPARK_REQUIRE_ENV = "REFERRAL_GRAPH_REQUIRE_SPARK"


def _spark_unavailable() -> str | None:
    from referral_graph.spark import INSTALL_HINT, spark_available

    if not spark_available():
        return f"pyspark is not installed ({INSTALL_HINT})"
    java_home = os.environ.get("JAVA_HOME")
    if shutil.which("java") is None and not (java_home and Path(java_home, "bin/java").exists()):
        return "Java is not installed (Spark needs Java 17+)"
    return None


def _spark_skip_or_fail(reason: str) -> None:
    if os.environ.get(SPARK_REQUIRE_ENV) == "1":
        pytest.fail(f"{SPARK_REQUIRE_ENV}=1 but Spark cannot run: {reason}")
    pytest.skip(f"Spark tests need pyspark and Java: {reason}")


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    """One local[2] session per test module; code generation off (tiny data: compiles
    dominate). Skipped, with the reason, where pyspark or Java is missing (failed in CI)."""
    from referral_graph.exceptions import ParameterError
    from referral_graph.spark import spark_session

    reason = _spark_unavailable()
    if reason is not None:
        _spark_skip_or_fail(reason)
    try:
        session = spark_session(
            "local[2]",
            shuffle_partitions=2,
            config={
                "spark.sql.codegen.wholeStage": "false",
                "spark.sql.codegen.factoryMode": "NO_CODEGEN",
            },
        )
    except ParameterError as exc:  # Java present but Spark cannot start
        _spark_skip_or_fail(str(exc))
    yield session
    session.stop()


@pytest.fixture
def shared_data() -> Path:
    """The folder of real public data beside the checkout (``../shared/data``)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real public data not found at {SHARED_DATA} (../shared/data is absent)")
    return SHARED_DATA


@pytest.fixture
def write_file(tmp_path: Path) -> Callable[..., Path]:
    """Write text (or bytes) to a file in tmp_path and return its path."""

    def _write(name: str, content: str | bytes, *, encoding: str = "utf-8") -> Path:
        path = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_bytes(content.encode(encoding))
        return path

    return _write


def pytest_configure(config: pytest.Config) -> None:
    # Hypothesis' failure report touches mypy_extensions.TypedDict, whose DeprecationWarning
    # (with filterwarnings = error) turns a readable failing example into an INTERNALERROR.
    config.addinivalue_line(
        "filterwarnings", "ignore:mypy_extensions.TypedDict is deprecated:DeprecationWarning"
    )
