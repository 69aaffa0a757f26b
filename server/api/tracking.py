"""The visitor's phone page address and its QR code (printed tickets reuse both)."""

from __future__ import annotations

import io

import qrcode
import qrcode.image.svg
from flask import request

from ..serializers import phone_url


def phone_page_url(tracking_token: str, public_base_url: str = "") -> str:
    """Where a ticket's QR code points: the configured public address of the server
    (what visitors' phones can reach), or the address this request came to."""
    return phone_url(public_base_url or request.host_url, tracking_token)


def qr_svg(data: str) -> bytes:
    image = qrcode.make(
        data,
        image_factory=qrcode.image.svg.SvgPathImage,
        error_correction=qrcode.constants.ERROR_CORRECT_M,
        border=2,
    )
    out = io.BytesIO()
    image.save(out)
    return out.getvalue()
