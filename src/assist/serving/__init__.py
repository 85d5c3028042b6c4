"""FastAPI app, web pages, auth and the referral/case store (nothing imports this package)."""
