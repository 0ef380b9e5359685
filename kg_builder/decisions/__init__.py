"""The decision layer: engines that run the packaged SPARQL over one store (engines.py), the
queries run in dependency order (decide.py) and the answers' types (model.py).
"""

__all__: list[str] = []
