"""The landing page, the health check and the browser packages installed from npm."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, jsonify, send_file, url_for

bp = Blueprint("web", __name__)

# Installed by `make install` (npm ci) from package-lock.json; never committed.
NODE_MODULES = Path(__file__).resolve().parent.parent / "node_modules"
VENDOR_FILES = {
    "socket.io.min.js": "socket.io-client/dist/socket.io.min.js",
}


@bp.get("/")
def index():
    return jsonify(
        {
            "name": "Növbə",
            "api": url_for("api.openapi_document"),
            "counter": url_for("counter.index"),
        }
    )


@bp.get("/healthz")
def health():
    return jsonify({"status": "ok"})


@bp.get("/vendor/<name>")
def vendor(name: str):
    if name not in VENDOR_FILES:
        abort(404)
    path = NODE_MODULES / VENDOR_FILES[name]
    if not path.is_file():
        abort(503, description=f"{path} is missing: run `make install` (npm ci)")
    return send_file(path, mimetype="text/javascript", max_age=3600)
