"""The control plane: FastAPI app, token auth, audit, metrics, dashboard (``server`` extra)."""
