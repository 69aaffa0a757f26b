"""``novbe`` commands for the fairness ledger (docs/ledger.md): check a day, seal one,
show the installation's public key."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import click

from . import fail, load_app, main


def _day(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is not a date as YYYY-MM-DD", param_hint="--day"
        ) from None


@main.command("verify-ledger")
@click.option("--center", "center_code", help="Check this center's day in the database.")
@click.option("--day", "day_text", help="The center's local day, YYYY-MM-DD.")
@click.option(
    "--file",
    "file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Check a downloaded ledger (JSON lines; '-' for standard input) offline.",
)
@click.option(
    "--public-key", help="With --file: the installation's public key (base64) or a PEM file."
)
def verify_ledger(
    center_code: str | None, day_text: str | None, file: Path | None, public_key: str | None
) -> None:
    """Recompute a day's chain and check its seal; exit 1 naming the first entry that
    does not match, 3 when the chain holds but is not sealed yet, 0 when all holds."""
    from ..ledger.verify import verify_lines

    if file is not None:
        if center_code or day_text:
            raise click.UsageError("--file checks a downloaded day: leave out --center and --day")
        if not public_key:
            raise click.UsageError("--file needs --public-key (shown on the center's public page)")
        key_text = _key_text(public_key)
        if str(file) == "-":
            report = verify_lines(sys.stdin, key_text)
        else:
            try:
                with file.open(encoding="utf-8") as lines:
                    report = verify_lines(lines, key_text)
            except OSError as exc:
                fail(f"cannot read {file}: {exc.strerror}")
            except UnicodeDecodeError:
                fail(f"{file} is not UTF-8 text: not a ledger file")
    else:
        day = _day(day_text)
        if not center_code or day is None:
            raise click.UsageError(
                "give --center and --day (the database), or --file and --public-key"
            )
        report = _verify_database(center_code, day, public_key)
    click.echo(report.summary())
    sys.exit(report.outcome)


def _key_text(value: str) -> str:
    """The key itself, or the text of a file holding it."""
    path = Path(value)
    if len(value) < 200 and path.is_file():
        return path.read_text(encoding="utf-8")
    return value


def _verify_database(center_code: str, day: date, public_key: str | None):
    from ..errors import NovbeError
    from ..extensions import db
    from ..ledger import key_path, signing_key
    from ..ledger.keys import LedgerKeyError, parse_public_key
    from ..ledger.verify import verify_database
    from ..queue.lookup import get_center

    app = load_app()
    if not public_key and not Path(key_path(app)).exists():
        # Not made here: a new key would only say that every seal is someone else's.
        fail(f"no ledger key at {key_path(app)}: give the installation's --public-key")
    try:
        key = (
            parse_public_key(_key_text(public_key)) if public_key else signing_key(app).public_key()
        )
    except LedgerKeyError as exc:
        fail(str(exc))
    with db.read() as session:
        try:
            center = get_center(session, center_code)
        except NovbeError as error:
            fail(error)
        return verify_database(session, center, day, key)


@main.command("seal-ledger")
@click.option("--center", "center_code", help="Only this center (default: every center).")
@click.option("--day", "day_text", help="Seal this day now, closed or not (needs --center).")
def seal_ledger(center_code: str | None, day_text: str | None) -> None:
    """Seal the days that are over (the server does it every minute), or one day now."""
    from ..errors import NovbeError
    from ..extensions import db
    from ..ledger import signing_key
    from ..ledger.seal import closed_days_to_seal, seal_day
    from ..queue.lookup import get_center

    day = _day(day_text)
    if day is not None and not center_code:
        raise click.UsageError("--day needs --center")
    app = load_app()
    key = signing_key(app)
    with db.write() as session:
        if day is not None:
            try:
                center = get_center(session, center_code)
            except NovbeError as error:
                fail(error)
            seal = seal_day(session, center, day, key)
            seals = [seal] if seal is not None else []
        else:
            seals = []
            for center, closed in closed_days_to_seal(session):
                if center_code in (None, center.code):
                    seal = seal_day(session, center, closed, key)
                    seals += [seal] if seal is not None else []
        lines = [
            f"sealed {s.center_code} {s.day}: {s.entries} entries, head {s.head}" for s in seals
        ]
    for line in lines or ["nothing to seal"]:
        click.echo(line)


@main.command("ledger-key")
def ledger_key() -> None:
    """Print the installation's public key (made on first use): publish it where citizens
    and auditors can find it apart from this server."""
    from ..ledger import key_path, signing_key
    from ..ledger.keys import key_id, public_key_text

    app = load_app()
    text = public_key_text(signing_key(app))
    click.echo(text)
    click.echo(f"key id {key_id(text)}, kept in {key_path(app)}", err=True)
