"""One module per dashboard, with its monitors and SLOs (registered in dashboards/registry.py)."""
