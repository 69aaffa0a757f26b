"""The production entry point (``novbe serve`` runs gunicorn with a gevent worker on it).

Importing this module creates the app and starts the end-of-day loop; nothing
else imports it.
"""

from . import create_app
from .maintenance import start_maintenance_loop

app = create_app({"SOCKETIO_ASYNC_MODE": "gevent"})
start_maintenance_loop(app)
