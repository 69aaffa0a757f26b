"""The fake printer's decoder on hand-written ESC/POS bytes (so its own reading is checked
independently of the ticket renderer it is used to test)."""

from __future__ import annotations

from hardware.loopback_printer import EscPosDecoder, PrinterState, decode

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
