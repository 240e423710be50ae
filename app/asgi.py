"""``uvicorn app.asgi:app``: the application built from the environment."""

from app.config import Settings
from app.main import create_app

app = create_app(Settings())
