"""Managers' reports (JSON or CSV) and the live dashboard figures (server/reports/)."""

from __future__ import annotations

import csv
import io

from flask import Response, jsonify, request

from .. import reports
from ..auth import MANAGER_ROLES as MANAGERS
from ..auth import require_staff
from ..errors import InvalidInput
from ..extensions import db
from ..models import LANGUAGES
from ..queue.lookup import get_center
from . import bp
from .access import caller
from .request import only_parameters

REPORT_PARAMETERS = ("from", "to", "format", "lang")
FORMATS = ("json", "csv")


@bp.get("/centers/<center_code>/report")
def center_report(center_code: str):
    actor = caller(roles=MANAGERS)
    with db.read() as s:
        center = get_center(s, center_code)
        require_staff(actor, center.id, roles=MANAGERS)
        date_from, date_to, output, language = _report_query()
        body = reports.report(s, center, date_from, date_to)
    return _respond(body, output, language, center_code)


@bp.get("/report")
def network_report():
    """Every center the caller may see: all for a network admin, else their own."""
    actor = caller(roles=MANAGERS)
    date_from, date_to, output, language = _report_query()
    with db.read() as s:
        body = reports.report(s, None, date_from, date_to, actor=actor)
    return _respond(body, output, language, "all")


@bp.get("/centers/<center_code>/dashboard")
def center_dashboard(center_code: str):
    actor = caller(roles=MANAGERS)
    if set(request.args):
        raise InvalidInput("this takes no parameters", field=sorted(request.args)[0])
    with db.read() as s:
        center = get_center(s, center_code)
        require_staff(actor, center.id, roles=MANAGERS)
        body = reports.dashboard(s, center)
    return jsonify(body)


def _report_query():
    """from, to (required, YYYY-MM-DD), format (json/csv; else the Accept header) and
    lang (the language of names in the CSV). Unknown or repeated parameters are
    refused."""
    only_parameters(REPORT_PARAMETERS)
    date_from = reports.parse_day(request.args.get("from"), "from")
    date_to = reports.parse_day(request.args.get("to"), "to")
    reports.check_range(date_from, date_to)
    output = request.args.get("format")
    if output is None:
        best = request.accept_mimetypes.best_match(["application/json", "text/csv"])
        output = "csv" if best == "text/csv" else "json"
    elif output not in FORMATS:
        raise InvalidInput(f"'format' must be one of {', '.join(FORMATS)}", field="format")
    language = request.args.get("lang", "en")
    if language not in LANGUAGES:
        raise InvalidInput(f"'lang' must be one of {', '.join(LANGUAGES)}", field="lang")
    return date_from, date_to, output, language


def _respond(body: dict, output: str, language: str, scope: str):
    if output == "json":
        return jsonify(body)
    buffer = io.StringIO()
    # The BOM lets spreadsheet programs read Azerbaijani and Russian names as UTF-8.
    buffer.write("\ufeff")
    csv.writer(buffer).writerows(reports.csv_rows(body, language))
    filename = f"novbe-report-{scope}-{body['from']}-{body['to']}.csv"
    return Response(
        buffer.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
