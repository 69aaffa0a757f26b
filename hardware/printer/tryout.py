"""``python -m hardware.printer URL [--sample az]``: ask a printer how it is, or print a
sample ticket on it, before a kiosk depends on it (see docs/hardware.md)."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime

from ..ticket import TicketPrint
from .addresses import ACCEPTED_FORMS, OPTIONS_HELP, PrinterUrlError
from .status import PrintError
from .ticket_printer import TicketPrinter


def sample_ticket(language: str = "en", paper_mm: int = 80) -> TicketPrint:
    """A ticket to try a printer with (``python -m hardware.printer URL --sample az``)."""
    names = {
        "az": ("DOST mərkəzi №3", "Yeni pensiya"),
        "ru": ("Центр DOST №3", "Новая пенсия"),
        "en": ("DOST center No. 3", "New pension"),
    }
    center, service = names.get(language, names["en"])
    return TicketPrint(
        center_name=center,
        number="A012",
        service_name=service,
        language=language,
        issued_at=datetime.now(UTC),
        timezone="Asia/Baku",
        phone_url="http://127.0.0.1:5000/t/sample",
        position=4,
        estimated_wait_s=780,
        paper_mm=paper_mm,
    )


def main(argv: list[str] | None = None) -> int:
    """Try a printer: ``python -m hardware.printer tcp://192.168.1.50 [--sample az]``.

    Exit code 0: the status was printed as JSON; 1: the sample was not printed; 2: a bad
    address (the message lists the accepted forms)."""
    parser = argparse.ArgumentParser(
        prog="python -m hardware.printer",
        description="Ask a ticket printer for its status, or print a sample ticket.",
        epilog="Accepted forms:\n  " + "\n  ".join(ACCEPTED_FORMS) + "\n" + OPTIONS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("url", help="the printer's address")
    parser.add_argument("--sample", choices=("az", "ru", "en"), help="print a sample ticket")
    parser.add_argument("--paper", type=int, choices=(58, 80), default=80)
    parser.add_argument("--timeout", type=float, help="seconds per step")
    args = parser.parse_args(argv)
    try:
        printer = TicketPrinter(args.url, timeout=args.timeout)
        if args.sample:
            printer.print_ticket(sample_ticket(args.sample, args.paper))
            print(f"printed a sample ticket ({args.sample}, {args.paper} mm)")
    except PrinterUrlError as exc:
        print(exc, file=sys.stderr)
        return 2
    except PrintError as exc:
        print(f"not printed: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(printer.status().as_dict(), ensure_ascii=False))
    return 0
