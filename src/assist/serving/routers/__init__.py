"""API routers (``/api/v1``)."""
