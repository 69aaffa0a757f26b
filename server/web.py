"""The landing page, the health check and the browser packages from npm.

The Socket.IO client is pinned by package-lock.json and never committed. A built package
(`pip install .`, a wheel) carries it in server/static/vendor/ (setup.py runs `npm ci` at
build time); a source checkout or editable install (`make install`) has it in
node_modules/.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, jsonify, send_file, url_for

bp = Blueprint("web", __name__)

# Put there by the build (setup.py); looked in first.
PACKAGED = Path(__file__).resolve().parent / "static" / "vendor"
# A source checkout's, from `make install` (npm ci).
NODE_MODULES = Path(__file__).resolve().parent.parent / "node_modules"
# Served name -> its path under node_modules (the packaged copy has the served name).
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
    for path in (PACKAGED / name, NODE_MODULES / VENDOR_FILES[name]):
        if path.is_file():
            return send_file(path, mimetype="text/javascript", max_age=3600)
    abort(
        503,
        description=f"{name} is missing from {PACKAGED} and {NODE_MODULES}: in a source "
        "checkout run `make install` (npm ci); otherwise reinstall the package",
    )
