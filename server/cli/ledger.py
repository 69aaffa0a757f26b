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
    "--public-key",
    "public_keys",
    multiple=True,
    help="The installation's public key (base64) or a PEM file; repeat it for the keys "
    "of before and after a change of key.",
)
def verify_ledger(
    center_code: str | None, day_text: str | None, file: Path | None, public_keys: tuple[str, ...]
) -> None:
    """Recompute a day's chain and check its seals; exit 1 naming the first entry that
    does not match, 3 when the chain holds but is not sealed yet, 0 when all holds."""
    from ..ledger.verify import verify_lines

    if file is not None:
        if center_code or day_text:
            raise click.UsageError("--file checks a downloaded day: leave out --center and --day")
        if not public_keys:
            raise click.UsageError("--file needs --public-key (shown on the center's public page)")
        key_texts = [_key_text(key) for key in public_keys]
        if str(file) == "-":
            report = verify_lines(sys.stdin, key_texts)
        else:
            try:
                with file.open(encoding="utf-8") as lines:
                    report = verify_lines(lines, key_texts)
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
        report = _verify_database(center_code, day, public_keys)
    click.echo(report.summary())
    sys.exit(report.outcome)


def _key_text(value: str) -> str:
    """The key itself, or the text of a file holding it."""
    path = Path(value)
    if len(value) < 200 and path.is_file():
        return path.read_text(encoding="utf-8")
    return value


def _verify_database(center_code: str, day: date, public_keys: tuple[str, ...]):
    """Against the database, with the installation's key (or the keys given) and the
    log of seals beside the key."""
    from ..errors import NovbeError
    from ..extensions import db
    from ..ledger import key_path, seal_log, signing_key
    from ..ledger.keys import LedgerKeyError, parse_public_key
    from ..ledger.verify import verify_database
    from ..queue.lookup import get_center

    app = load_app()
    has_key = Path(key_path(app)).exists()
    if not public_keys and not has_key:
        # Not made here: a new key would only say that every seal is someone else's.
        fail(f"no ledger key at {key_path(app)}: give the installation's --public-key")
    try:
        keys = [parse_public_key(_key_text(key)) for key in public_keys]
    except LedgerKeyError as exc:
        fail(str(exc))
    if has_key:
        keys.append(signing_key(app).public_key())
    with db.read() as session:
        try:
            center = get_center(session, center_code)
        except NovbeError as error:
            fail(error)
        return verify_database(session, center, day, keys, seal_log(app).seals(center.code))


@main.command("seal-ledger")
@click.option("--center", "center_code", help="Only this center (default: every center).")
@click.option("--day", "day_text", help="Seal this day now, closed or not (needs --center).")
def seal_ledger(center_code: str | None, day_text: str | None) -> None:
    """Seal the days that are over (the server does it every minute), or one day now."""
    from ..errors import NovbeError
    from ..extensions import db
    from ..ledger import seal_log, signing_key
    from ..ledger.seal import SealRefused, closed_days_to_seal, seal_day, seal_json
    from ..queue.lookup import get_center

    day = _day(day_text)
    if day is not None and not center_code:
        raise click.UsageError("--day needs --center")
    app = load_app()
    key, log = signing_key(app), seal_log(app)
    with db.write() as session:
        if day is not None:
            try:
                due = [(get_center(session, center_code), day)]
            except NovbeError as error:
                fail(error)
        else:
            due = [d for d in closed_days_to_seal(session) if center_code in (None, d[0].code)]
        sealed = []
        for center, closed in due:
            try:
                seal = seal_day(session, center, closed, key, log)
            except SealRefused as refused:
                fail(f"not sealed: {refused}")
            if seal is not None:
                sealed.append(seal_json(seal))
    log.append(sealed)  # committed: from now on it must not vanish from the database
    for seal in sealed:
        click.echo(
            f"sealed {seal['center']} {seal['day']}: {seal['entries']} entries, head {seal['head']}"
        )
    if not sealed:
        click.echo("nothing to seal")


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
