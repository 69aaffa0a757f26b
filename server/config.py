"""Configuration classes. ``create_app(config)`` takes one of these (or a dict)."""

from __future__ import annotations

import os
import secrets


class Config:
    # Empty means an SQLite file in the instance folder (set by create_app).
    DATABASE_URL = os.environ.get("NOVBE_DATABASE_URL", "")
    SECRET_KEY = os.environ.get("NOVBE_SECRET_KEY") or secrets.token_hex(32)
    API_TOKEN_HOURS = int(os.environ.get("NOVBE_API_TOKEN_HOURS", "12"))
    JSON_SORT_KEYS = False
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SQL_ECHO = False


class DevelopmentConfig(Config):
    pass


class TestConfig(Config):
    TESTING = True
    SECRET_KEY = "test-secret"
