"""Tickets a loopback printer received, written out to look at: ``novbe loopback-printer``.

:func:`serve` runs a :class:`~hardware.loopback_printer.servers.LoopbackPrinter` on a port
(9100 for the demo kiosk unless ``novbe demo --printer-port`` says otherwise) and writes each
ticket to a folder as ``NNNN.txt`` (:meth:`~hardware.loopback_printer.paper.Job.transcript`:
its text lines, where pictures are, the QR codes' addresses) and ``NNNN.png``
(:func:`preview`: what the paper shows). The file ``PAPER_OUT`` in that folder makes it
report no paper; removing it refills the paper.

Invariants: tickets are numbered from 0001 in the order printed, each written once; a
ticket's ``.png`` is written before its ``.txt``, so a ``.txt`` appearing means both are
there. :class:`TicketFolder` does one step at a time (``sync()``), so it can be tested
without the loop.
"""

from __future__ import annotations

import time
from pathlib import Path

from .paper import Job, RasterImage, TextLine
from .servers import LoopbackPrinter

PAPER_OUT = "PAPER_OUT"  # the marker file: while it exists, the printer has no paper


# A printer's own font A: 12 x 24 dots a character, magnified by repeating dots (GS !).
CELL_DOTS = (12, 24)
CELL_FONT_PX = 20  # DejaVu Sans Mono at this size fills a 12-dot cell


def preview(job: Job, width: int = 576):
    """A picture of a decoded ticket, to look at by eye: raster images dot for dot, QR
    codes drawn from their payload, and text as a printer prints its own font (see
    :func:`text_line_image`)."""
    import qrcode
    from PIL import Image

    parts: list[Image.Image] = []
    for item in job.items:
        if isinstance(item, TextLine):
            parts.append(text_line_image(item, width))
        elif isinstance(item, RasterImage):
            parts.append(item.to_pil().convert("L"))
        else:
            code = qrcode.QRCode(box_size=item.module_size or 3, border=1)
            code.add_data(item.payload)
            image = code.make_image().get_image().convert("L")
            part = Image.new("L", (width, image.height), 255)
            part.paste(image, ((width - image.width) // 2, 0))
            parts.append(part)
    sheet = Image.new("L", (width + 16, sum(p.height for p in parts) + 32), 255)
    y = 16
    for part in parts:
        sheet.paste(part, (8, y))
        y += part.height
    return sheet


def text_line_image(line: TextLine, width: int):
    """``line`` as a printer prints text: each character in a 12 x 24 dot cell (DejaVu Sans
    Mono standing in for the printer's font, bold when emphasized), black and white, then
    magnified by repeating dots ``width`` x ``height`` times, as GS ! does."""
    from PIL import Image, ImageDraw, ImageFont

    from ..escpos_render import find_font  # python-escpos loads its printer database

    mono = find_font().replace("DejaVuSans.ttf", "DejaVuSansMono.ttf")
    if line.bold:
        mono = mono.replace("DejaVuSansMono.ttf", "DejaVuSansMono-Bold.ttf")
    font = ImageFont.truetype(mono, CELL_FONT_PX)
    cell_w, cell_h = CELL_DOTS
    row = Image.new("L", (max(1, len(line.text)) * cell_w, cell_h), 255)
    draw = ImageDraw.Draw(row)
    for i, char in enumerate(line.text):
        x = i * cell_w + (cell_w - font.getlength(char)) / 2
        draw.text((x, 1), char, font=font, fill=0)
    row = row.point(lambda v: 0 if v < 128 else 255)
    row = row.resize((row.width * line.width, cell_h * line.height), Image.NEAREST)
    part = Image.new("L", (width, row.height), 255)
    left = {"center": (width - row.width) // 2, "right": width - row.width}.get(line.align, 0)
    part.paste(row, (left, 0))
    return part


class TicketFolder:
    """Keeps ``folder`` in step with ``printer``: each new ticket written out, the paper
    state following the ``PAPER_OUT`` marker file."""

    def __init__(self, printer: LoopbackPrinter, folder: Path) -> None:
        self.printer = printer
        self.folder = folder
        self.marker = folder / PAPER_OUT
        self.written = 0
        folder.mkdir(parents=True, exist_ok=True)

    def sync(self) -> list[str]:
        """Follow the marker and write the tickets printed since the last call; returns
        what happened, a line each ("paper out", "printed ticket 0001")."""
        happened = []
        out = self.marker.exists()
        if out != self.printer.state.paper_out:
            self.printer.set(paper_out=out)
            happened.append("paper out" if out else "paper refilled")
        for job in self.printer.printed()[self.written :]:
            self.written += 1
            name = f"{self.written:04d}"
            # The picture first: a ticket's .txt appearing means both are there.
            preview(job).save(self.folder / f"{name}.png")
            (self.folder / f"{name}.txt").write_text(job.transcript(), encoding="utf-8")
            happened.append(f"printed ticket {name}")
        return happened


def serve(port: int, out_dir: str) -> None:
    """``novbe loopback-printer``: a printer on 127.0.0.1:``port`` that writes every ticket it
    receives to ``out_dir`` as a transcript (``NNNN.txt``) and a picture (``NNNN.png``).
    Create the file ``PAPER_OUT`` in ``out_dir`` to make it report no paper; remove it to
    refill. Runs until interrupted (Ctrl-C)."""
    printer = LoopbackPrinter()
    printer.port = port
    folder = TicketFolder(printer, Path(out_dir))
    printer.start()
    print(
        f"loopback printer on tcp://127.0.0.1:{printer.port}, tickets go to {folder.folder}/",
        flush=True,
    )
    try:
        while True:
            for line in folder.sync():
                print(line, flush=True)
            time.sleep(0.3)
    except KeyboardInterrupt:
        pass
    finally:
        printer.stop()
