"""Extensions, created once here and bound to the app in ``create_app``."""

from flask_socketio import SocketIO

from .db import Database

db = Database()
socketio = SocketIO()
