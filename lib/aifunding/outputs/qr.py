"""A QR code of a link, as inline SVG with a text alternative: for a room to open a live session's audience link."""

from __future__ import annotations

import html

import segno


def qr_svg(link: str, label: str, scale: int = 5) -> str:
    """An ``<svg>`` of ``link`` as a QR code, named ``label`` for screen readers (its ``title`` and ``aria-label``).

    Error correction M (a code on a projector, photographed from a seat, survives some glare); dark on
    white whatever the page's theme, with the quiet zone scanners need.
    """
    code = segno.make(link, error="m", micro=False)
    svg = code.svg_inline(scale=scale, border=4, dark="#000", light="#fff", title=label)
    return svg.replace("<svg ", f'<svg role="img" aria-label="{html.escape(label, quote=True)}" ', 1)
