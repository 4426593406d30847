"""SkyPilot jobs, clusters and GPUs (collector.py) through the API server's REST interface
(api.py)."""
