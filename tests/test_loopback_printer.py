"""The loopback printer itself: its decoder on hand-written ESC/POS bytes (so its own
reading is checked independently of the ticket renderer it is used to test), its network
side over a raw socket, and the folder ``novbe loopback-printer`` writes tickets to."""

from __future__ import annotations

import socket
import time

import pytest
from PIL import Image

from hardware.loopback_printer import (
    EscPosDecoder,
    Job,
    LoopbackPrinter,
    PrinterState,
    RasterImage,
    TextLine,
    TicketFolder,
    decode,
    preview,
)

ESC, GS, DLE = b"\x1b", b"\x1d", b"\x10"


def test_text_in_the_selected_code_page_with_sizes():
    data = (
        ESC + b"@" + ESC + b"a\x01"
        + ESC + b"t\x11" + "Привет".encode("cp866") + b"\n"  # CP866 is table 17
        + ESC + b"t\x2e" + GS + b"!\x11" + "Ёж".encode("cp1251") + b"\n"  # CP1251, 2x2
        + ESC + b"!\x38" + b"AB\n"  # double width and height, emphasized
        + GS + b"V\x42\x03"  # feed and partial cut
    )  # fmt: skip
    decoded = decode(data)
    assert decoded.errors == [] and decoded.unfinished is None
    [job] = decoded.jobs
    assert job.cut == "partial"
    hello, hedgehog, ab = job.lines
    assert (hello.text, hello.code_pages, hello.align) == ("Привет", ("cp866",), "center")
    assert (hedgehog.text, hedgehog.width, hedgehog.height) == ("Ёж", 2, 2)
    assert (ab.width, ab.height, ab.bold) == (2, 2, True)


def test_reset_discards_unprinted_text_and_restores_code_page_0():
    data = ESC + b"t\x11" + b"lost" + ESC + b"@" + bytes([0x9A]) + b"\n" + GS + b"V\x00"
    [job] = decode(data).jobs
    assert [line.text for line in job.lines] == ["Ü"]  # 0x9A in CP437
    assert job.cut == "full"


def test_qr_store_and_print_and_a_raster_image():
    payload = b"https://example.org/t/1"
    data = (
        GS + b"(k\x04\x001A2\x00"  # model 2
        + GS + b"(k\x03\x001C\x05"  # module size 5
        + GS + b"(k\x03\x001E2"  # error correction Q
        + GS + b"(k" + bytes([len(payload) + 3, 0]) + b"1P0" + payload
        + GS + b"(k\x03\x001Q0"  # print
        + GS + b"v0\x00\x02\x00\x02\x00" + bytes([0xFF, 0x00, 0x00, 0x01])  # 16 x 2 dots
        + GS + b"V\x01"
    )  # fmt: skip
    [job] = decode(data).jobs
    [qr] = job.qr_codes
    assert (qr.payload, qr.module_size, qr.error_correction, qr.model) == (
        "https://example.org/t/1",
        5,
        "Q",
        2,
    )
    [image] = job.images
    assert (image.width, image.height, image.black_dots) == (16, 2, 9)
    assert image.black(0, 0) and not image.black(8, 0) and image.black(15, 1)
    assert job.kinds() == ["qr", "image"]


def test_status_answers_follow_the_state():
    state = PrinterState()
    decoder = EscPosDecoder(state=state)
    assert decoder.feed(DLE + b"\x04\x01" + DLE + b"\x04\x04") == b"\x12\x12"
    state.paper_low = True
    assert decoder.feed(DLE + b"\x04\x04") == b"\x1e"
    state.paper_out = True
    assert decoder.feed(DLE + b"\x04\x01" + DLE + b"\x04\x02" + DLE + b"\x04\x04") == (
        b"\x1a\x32\x7e"
    )
    state.paper_out, state.cover_open = False, True
    assert decoder.feed(DLE + b"\x04\x02") == b"\x16"
    assert decoder.status_queries == [1, 4, 4, 1, 2, 4, 2]


def test_commands_split_across_reads_and_unknown_ones():
    decoder = EscPosDecoder()
    stream = ESC + b"t\x11" + "Да".encode("cp866") + b"\n" + GS + b"V\x00"
    for byte in stream:  # one byte at a time, as a slow line delivers it
        decoder.feed(bytes([byte]))
    assert [line.text for line in decoder.jobs[0].lines] == ["Да"]
    decoder.feed(ESC + b"\x7f" + ESC + b"t\x63" + b"\x80")
    assert any("ESC 0x7f" in error for error in decoder.errors)
    assert any("ESC t 99" in error for error in decoder.errors)
    assert decoder.finish().lines[0].text == "\ufffd"


def test_printing_while_out_of_paper_is_discarded():
    decoder = EscPosDecoder(state=PrinterState(paper_out=True))
    decoder.feed(b"ticket\n" + GS + b"V\x00")
    assert decoder.jobs == [] and len(decoder.discarded) == 1


def send(printer: LoopbackPrinter, data: bytes, answers: int = 0) -> bytes:
    """Send ``data`` on a connection of its own; return the first ``answers`` bytes back."""
    with socket.create_connection(("127.0.0.1", printer.port), timeout=5) as conn:
        conn.sendall(data)
        got = b""
        while len(got) < answers:
            chunk = conn.recv(16)
            assert chunk, "the printer closed the connection"
            got += chunk
        return got


def test_offline_refuses_connections_and_comes_back_on_the_same_port():
    with LoopbackPrinter(offline=True) as printer:
        port = printer.port
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=5)
        printer.set(offline=False)
        assert printer.port == port and printer.url == f"tcp://127.0.0.1:{port}"
        assert send(printer, DLE + b"\x04\x01", answers=1) == b"\x12"
    assert printer.connections == 1


def test_drop_after_takes_that_many_bytes_then_resets_the_connection():
    with (
        LoopbackPrinter(drop_after=4) as printer,
        socket.create_connection(("127.0.0.1", printer.port), timeout=5) as conn,
    ):
        conn.sendall(b"abcdefgh\n")
        with pytest.raises(ConnectionResetError):
            while conn.recv(16):
                pass
    assert bytes(printer.received) == b"abcd"
    [partial] = printer.unfinished
    assert (partial.text, partial.cut) == ("abcd", None)


def test_the_ticket_folder_writes_each_ticket_once_and_follows_the_paper_marker(tmp_path):
    with LoopbackPrinter() as printer:
        folder = TicketFolder(printer, tmp_path / "prints")
        assert folder.sync() == []
        send(printer, ESC + b"@" + b"A012\nYour number\n" + GS + b"V\x00")
        printer.wait_for_jobs(1)
        assert folder.sync() == ["printed ticket 0001"]
        assert (tmp_path / "prints" / "0001.txt").read_text(encoding="utf-8") == (
            "A012\nYour number"
        )
        with Image.open(tmp_path / "prints" / "0001.png") as picture:
            assert picture.width == 576 + 16
        assert folder.sync() == []  # written once

        (tmp_path / "prints" / "PAPER_OUT").touch()
        assert folder.sync() == ["paper out"]
        # The printer says so on the wire: offline, stopped for paper end, roll empty.
        assert send(printer, DLE + b"\x04\x01" + DLE + b"\x04\x04", answers=2) == b"\x1a\x7e"
        send(printer, b"lost\n" + GS + b"V\x00")
        deadline = time.monotonic() + 5
        while not printer.discarded and time.monotonic() < deadline:
            time.sleep(0.01)
        [lost] = printer.discarded  # cut without paper: not printed
        assert lost.text == "lost"
        (tmp_path / "prints" / "PAPER_OUT").unlink()
        assert folder.sync() == ["paper refilled"]
    assert sorted(path.name for path in (tmp_path / "prints").iterdir()) == ["0001.png", "0001.txt"]


def test_image_raster_round_trip():
    # Rows of bytes, most significant bit first, 1 = black (GS v 0).
    image = RasterImage(16, 1, bytes([0x80, 0x01]))
    assert image.black(0, 0) and image.black(15, 0) and not image.black(1, 0)
    assert image.black_dots == 2


def test_the_transcript_says_where_pictures_and_qr_codes_are():
    payload = b"https://example.org/t/1"
    data = (
        b"Your number\n"
        + GS + b"v0\x00\x02\x00\x01\x00" + bytes([0xFF, 0x00])  # 16 x 1 dots
        + GS + b"(k" + bytes([len(payload) + 3, 0]) + b"1P0" + payload
        + GS + b"(k\x03\x001Q0"
        + b"Thanks\n" + GS + b"V\x00"
    )  # fmt: skip
    [job] = decode(data).jobs
    assert job.transcript() == (
        "Your number\n[picture 16 x 1 dots]\n[QR code: https://example.org/t/1]\nThanks"
    )


def ink_box(picture: Image.Image) -> tuple[int, int, int, int]:
    return picture.convert("L").point(lambda v: 255 - v).getbbox()


def test_the_preview_prints_text_as_a_printer_magnifies_its_font():
    full = "x" * 48  # a full line of font A on 80 mm paper: 48 x 12 dots
    data = (
        ESC + b"a\x01" + full.encode() + b"\n"
        + GS + b"!\x01" + ESC + b"E\x01" + b"Tall header\n"  # 1 wide, 2 high, bold
        + GS + b"!\x55" + b"A1\n"  # 6 x 6
        + GS + b"V\x00"
    )  # fmt: skip
    [job] = decode(data).jobs
    sheet = preview(job)  # 8 dots of margin each side of the 576-dot paper
    lines = [preview(Job(items=[line])) for line in job.lines]
    left, _, right, _ = ink_box(lines[0])
    assert left >= 8 and right <= 8 + 576 and right - left > 560  # fits, edge to edge
    _, top, _, bottom = ink_box(lines[1])
    assert 24 < bottom - top <= 48  # twice a line's height
    left, top, right, bottom = ink_box(lines[2])
    assert 80 < bottom - top <= 144 and 72 < right - left <= 144  # 6 x 6 cells of 12 x 24
    regular, bold = (
        preview(Job(items=[TextLine("Tall header", bold=weight)])) for weight in (False, True)
    )
    ink = [sum(picture.convert("L").histogram()[:128]) for picture in (regular, bold)]
    assert ink[1] > 1.2 * ink[0]  # emphasized prints heavier
    assert sheet.height > sum(picture.height - 32 for picture in lines)
