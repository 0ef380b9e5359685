"""The patient side: inputs as they come (readers.py), the JSON record (record.py) and the
mutation notation labs write (mutations.py), each input turned into a patient graph.
"""

__all__: list[str] = []
