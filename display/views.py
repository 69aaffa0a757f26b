"""The display page; its data comes over the live channel with the device token."""

from __future__ import annotations

from server.screens import render_screen

from . import TRANSLATIONS, bp


@bp.get("/display/<device>")
def display(device: str):
    return render_screen("display/display.html", TRANSLATIONS, device=device)
