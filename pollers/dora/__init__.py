"""DORA's four keys per repository, reconciled from the GitHub (and Asana) APIs every cycle:
the collector (collector.py), the records it fetches (fetch.py), the pure figures (figures.py)
and the high-water marks that keep event-level values from being sent twice (marks.py)."""
