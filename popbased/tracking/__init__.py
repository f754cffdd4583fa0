"""MLflow tracking: only the driver writes (see store.py and league.py)."""
