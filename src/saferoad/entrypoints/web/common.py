"""What the page routes share: templates, the logged-in user, CSRF checks."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from fastapi.templating import Jinja2Templates

from saferoad.application.web import session_user
from saferoad.config import SaferoadConfig
from saferoad.domain.event_specs import event_title
from saferoad.domain.review import ReviewStatus
from saferoad.ports.store import Store
from saferoad.ports.web import UserInfo

COOKIE = "saferoad_session"
LOGIN_CSRF_COOKIE = "saferoad_login_csrf"
templates = Jinja2Templates(directory=Path(__file__).with_name("templates"))
templates.env.globals.update(
    event_title=event_title,
    statuses=list(ReviewStatus),
    status_label=lambda s: ReviewStatus(s).label,
)


class LoginRequired(Exception):
    pass


class CsrfFailed(Exception):
    pass


def store_of(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def config_of(request: Request) -> SaferoadConfig:
    config: SaferoadConfig = request.app.state.config
    return config


def current_user(request: Request) -> tuple[UserInfo, str]:
    token = request.cookies.get(COOKIE)
    if not token:
        raise LoginRequired
    found = session_user(store_of(request), token)
    if found is None:
        raise LoginRequired
    return found


def check_csrf(request: Request, csrf: str, sent: str | None) -> None:
    sent = sent or request.headers.get("X-CSRF-Token")
    if not sent or not secrets.compare_digest(sent, csrf):
        raise CsrfFailed


def render(
    request: Request, name: str, user: UserInfo | None, csrf: str | None, **ctx: Any
) -> Response:
    return templates.TemplateResponse(request, name, {"user": user, "csrf": csrf, **ctx})
