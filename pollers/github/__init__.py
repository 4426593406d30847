"""GitHub's rolling 7-day aggregates: the collector (collector.py) over PyGithub's requester
(http.py, with a token or as a GitHub App: app.py), the pure figures (aggregates.py), and the
first cycle's backfill within a time budget (backfill.py)."""
