"""The cmvrr command line (cli.py) and the work behind its larger subcommands: batch, cohort,
serve/push, query, bench and synth.
"""

__all__: list[str] = []
