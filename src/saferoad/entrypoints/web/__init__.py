"""``saferoad web``: the fleet web app (server-rendered, Jinja2 + htmx) and the device ingest
API, one FastAPI application over the trip store (a driving adapter: routes stay thin and call
``saferoad.application.web`` and ``saferoad.application.device_ingest``)."""

from saferoad.entrypoints.web.app import create_app

__all__ = ["create_app"]
