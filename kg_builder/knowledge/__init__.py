"""The knowledge side: curated tables (specs.py, tables.py) -> individuals (build.py) -> the one
checked release graph (graph.py), cached on disk (../cache.py) and written as files (release.py).
"""

__all__: list[str] = []
