"""Extensions, created once here and bound to the app in ``create_app``."""

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_socketio import SocketIO

from .db import Database

db = Database()
socketio = SocketIO()
# Rate limits (the login limits: server/api/login_limits.py), configured from the app's
# RATELIMIT_* keys; each init_app opens its own storage.
limiter = Limiter(key_func=get_remote_address)
