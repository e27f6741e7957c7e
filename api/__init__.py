"""The REST API (FastAPI) of the badges reference, on the same service as the bot."""

from api.app import create_app

__all__ = ["create_app"]
