"""QR codes of payment-link URLs, for printing on letters.

An SVG path (one ``<path>``, no raster), sized in millimetres so it prints sharp.
The markup carries no ``style`` attribute: pages are served with a CSP of
``style-src 'self'``, which would block inline styles wherever the SVG is embedded.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import qrcode
from qrcode.image.svg import SvgPathImage

SVG_CONTENT_TYPE = "image/svg+xml"


def qr_svg(data: str, *, title: str = "Payment link QR code") -> bytes:
    """The QR code of ``data`` as a standalone SVG document (UTF-8 bytes)."""
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4, image_factory=SvgPathImage)
    qr.add_data(data)
    qr.make(fit=True)
    image = qr.make_image()
    root = image.get_image()
    for element in root.iter():
        element.attrib.pop("style", None)
    # A white quiet zone, so the code scans on a dark screen as well as on paper.
    root.insert(0, ET.Element("rect", {"width": "100%", "height": "100%", "fill": "#ffffff"}))
    root.set("role", "img")
    root.set("aria-label", title)
    return image.to_string(encoding="UTF-8")
