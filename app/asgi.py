"""``uvicorn app.asgi:app``: the application built from the environment."""

from app.config import Settings
from app.httpserver import GuardedHttpToolsProtocol
from app.main import create_app

settings = Settings()
GuardedHttpToolsProtocol.configure(settings)  # each server process imports this module
app = create_app(settings)
