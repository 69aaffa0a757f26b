"""Printer addresses (hardware/printer/addresses.py): the accepted forms, their options
and defaults, and refusals that list the accepted forms."""

from __future__ import annotations

import pytest

from hardware.printer import ACCEPTED_FORMS, PrinterUrlError, parse_printer_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("usb://04b8:0e15", {"kind": "usb", "vendor_id": 0x04B8, "product_id": 0x0E15}),
        (
            "usb://0x0416:0x5011?in_ep=0x81&out_ep=3",
            {"vendor_id": 0x0416, "product_id": 0x5011, "in_ep": 0x81, "out_ep": 3},
        ),
        ("tcp://192.168.1.50", {"kind": "tcp", "host": "192.168.1.50", "port": 9100}),
        (
            "tcp://printer.hall.local:9101?profile=TM-T88V&paper=58&timeout=2.5",
            {"host": "printer.hall.local", "port": 9101, "profile": "TM-T88V", "paper": 58},
        ),
        ("TCP://[fd00::7]:9100", {"kind": "tcp", "host": "fd00::7", "port": 9100}),
        (
            "serial:///dev/ttyUSB0?baudrate=19200",
            {"kind": "serial", "device": "/dev/ttyUSB0", "baudrate": 19200},
        ),
        ("serial:///dev/ttyS0", {"device": "/dev/ttyS0", "baudrate": 9600}),
        ("file:///dev/usb/lp0", {"kind": "file", "device": "/dev/usb/lp0"}),
        ("cups://Kiosk_Printer", {"kind": "cups", "queue": "Kiosk_Printer"}),
        ("dummy://", {"kind": "dummy", "status_queries": False}),
        ("tcp://10.0.0.9?status=off", {"status_queries": False}),
    ],
)
def test_accepted_printer_addresses(url, expected):
    spec = parse_printer_url(url)
    for name, value in expected.items():
        assert getattr(spec, name) == value, name
    assert spec.url == url


def test_address_options_and_defaults():
    tcp = parse_printer_url("tcp://10.0.0.9")
    assert (tcp.status_queries, tcp.effective_timeout, tcp.paper, tcp.profile) == (
        True,
        3.0,
        None,
        None,
    )
    assert parse_printer_url("tcp://10.0.0.9?timeout=2.5").effective_timeout == 2.5
    assert parse_printer_url("serial:///dev/ttyS0").effective_timeout == 5.0
    assert parse_printer_url("file:///dev/usb/lp0").status_queries is False


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("", "empty printer address"),
        ("printer-1", "no kind of printer"),
        ("http://10.0.0.9", "unknown kind of printer 'http'"),
        ("usb://04b8", "usb:// needs VID:PID"),
        ("usb://04bz:0e15", "usb:// needs VID:PID"),
        ("usb://0000:0e15", "must not be 0"),
        ("usb://04b8:0e15?in_ep=300", "in_ep must be between 1 and 255"),
        ("tcp://", "tcp:// needs a host"),
        ("tcp://10.0.0.9:99999", "port must be a number"),
        ("tcp://10.0.0.9:http", "port must be a number"),
        ("tcp://admin@10.0.0.9", "tcp:// needs a host"),
        ("tcp://bad_host!:9100", "is not a host name"),
        ("serial://dev/ttyUSB0", "three slashes"),
        ("serial:///dev/ttyUSB0?baudrate=12345", "baudrate 12345 is not one of"),
        ("serial:///dev/ttyUSB0?baud=19200", "unknown option 'baud'"),
        ("file://dev/usb/lp0", "file:// needs an absolute path"),
        ("cups://", "cups:// needs a CUPS queue name"),
        ("cups://Kiosk Printer", "cups:// needs a CUPS queue name"),
        ("dummy://printer", "dummy:// takes no host or path"),
        ("dummy://?baudrate=9600", "unknown option 'baudrate'"),
        ("tcp://10.0.0.9?paper=57", "paper must be 58 or 80"),
        ("tcp://10.0.0.9?timeout=0", "timeout must be seconds"),
        ("tcp://10.0.0.9?timeout=soon", "timeout must be seconds"),
        ("tcp://10.0.0.9?profile=TM-X1", "unknown printer profile 'TM-X1'"),
        ("tcp://10.0.0.9?status=maybe", "status must be on or off"),
        ("tcp://10.0.0.9?timeout=1&timeout=2", "given twice"),
        ("tcp://10.0.0.9?timeout=", "has no value"),
    ],
)
def test_bad_printer_addresses_list_the_accepted_forms(url, problem):
    with pytest.raises(PrinterUrlError) as caught:
        parse_printer_url(url)
    message = str(caught.value)
    assert problem in message
    assert isinstance(caught.value, ValueError)
    for form in ACCEPTED_FORMS:
        assert form in message
    assert "profile=" in message and "paper=58|80" in message
