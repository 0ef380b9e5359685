"""The installed package's version, from its metadata (one source: pyproject.toml). Read when
first asked for (--version, kg_builder.__version__): finding the distribution takes 1-4 ms, which
a cold `cmvrr recommend` need not spend."""

from __future__ import annotations

from functools import cache


@cache
def package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("cmv-rr")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0+unknown"


__all__ = ["package_version"]
