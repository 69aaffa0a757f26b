"""Managers' SVG charts: the right bars for a seeded day in the center's local hours,
readable labels in the asked language, and only managers of the center may see them."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from server import charts, queue
from server.models import Center
from server.queue import Actor

from . import factories
from .engine_helpers import quick_staff

SVG = "{http://www.w3.org/2000/svg}"
DAY = date(2024, 3, 11)  # a Monday; Baku is UTC+4 all year


def baku(day: date, hour: int, minute: int = 0) -> datetime:
    """A local time in Baku as the UTC instant the engine is given."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC) - timedelta(hours=4)


def _center(s, code: str) -> Center:
    return s.scalar(select(Center).where(Center.code == code))


def issue(s, code: str, service: str, now: datetime):
    kiosk = factories.kiosk_actor(s, _center(s, code))
    return queue.issue_ticket(s, code, service, "az", None, kiosk, now=now).ticket


def serve(s, ticket, counter_label: str, staff: Actor, now: datetime) -> None:
    """Call the ticket out of turn (deterministic), then start serving it."""
    counter = factories.counter(s, s.get(Center, ticket.center_id), counter_label)
    queue.call_ticket(s, counter.id, ticket.id, "appointment", staff, now=now)
    queue.start(s, ticket.id, staff, now=now)


@pytest.fixture
def seeded(db):
    """baku-1 on Monday 2024-03-11 (local times):

    * 00:30 A (pension-new), never called: its UTC day is the 10th, its local day the 11th
    * 10:05 A, called 10:15 (waited 10 min); 10:20 A, called 10:50 (30 min)
    * 10:40 B (pension-recalc), never called
    * 13:50 C (job-seeker), called 14:02 (12 min)
    * Sunday the 10th 11:10 one A; Monday the 4th (eight days back) one A
    """
    with db.write() as s:
        factories.make_center(s)
        center = _center(s, "baku-1")
        staff = quick_staff(s, center, "clerk")
        issue(s, "baku-1", "pension-new", baku(DAY - timedelta(days=7), 11))
        issue(s, "baku-1", "pension-new", baku(DAY - timedelta(days=1), 11, 10))
        issue(s, "baku-1", "pension-new", baku(DAY, 0, 30))
        a1 = issue(s, "baku-1", "pension-new", baku(DAY, 10, 5))
        a2 = issue(s, "baku-1", "pension-new", baku(DAY, 10, 20))
        issue(s, "baku-1", "pension-recalc", baku(DAY, 10, 40))
        c1 = issue(s, "baku-1", "job-seeker", baku(DAY, 13, 50))
        serve(s, a1, "1", staff, baku(DAY, 10, 15))
        serve(s, a2, "1", staff, baku(DAY, 10, 50))
        serve(s, c1, "3", staff, baku(DAY, 14, 2))
    return db


def parse(svg_text: str) -> ET.Element:
    root = ET.fromstring(svg_text)
    assert root.tag == f"{SVG}svg"
    return root


def marks(root: ET.Element, tag: str, css_class: str) -> list[ET.Element]:
    return [e for e in root.iter(f"{SVG}{tag}") if e.get("class") == css_class]


def texts(root: ET.Element) -> list[str]:
    return [e.text or "" for e in root.iter(f"{SVG}text")]


def draw(db, what: str, lang: str = "en", day: date = DAY, code: str = "baku-1") -> ET.Element:
    with db.read() as s:
        center = _center(s, code)
        if what == "arrivals":
            return parse(charts.arrivals_svg(charts.day_by_hour(s, center, day), lang))
        if what == "waits":
            return parse(charts.waits_svg(charts.day_by_hour(s, center, day), lang))
        return parse(charts.week_svg(center, charts.week_by_hour(s, center, day), lang))


# ---- the figures ---------------------------------------------------------------------


def test_arrivals_are_stacked_bars_per_service_and_local_hour(seeded):
    root = draw(seeded, "arrivals")
    bars = {
        (b.get("data-service"), int(b.get("data-hour"))): int(b.get("data-count"))
        for b in marks(root, "rect", "bar")
    }
    assert bars == {
        ("pension-new", 0): 1,  # local hour 0, though UTC says 20:30 the day before
        ("pension-new", 10): 2,
        ("pension-recalc", 10): 1,
        ("job-seeker", 13): 1,
    }
    # Heights are proportional to the counts: one visitor is one unit everywhere.
    units = {float(b.get("height")) / int(b.get("data-count")) for b in marks(root, "rect", "bar")}
    assert max(units) - min(units) < 0.05
    # The 10 o'clock column stacks A (2) under B (1): B starts where A ends.
    a10 = next(b for b in marks(root, "rect", "bar") if b.get("data-hour") == "10")
    b10 = [b for b in marks(root, "rect", "bar") if b.get("data-hour") == "10"][1]
    assert b10.get("data-service") == "pension-recalc"
    assert float(b10.get("y")) + float(b10.get("height")) == pytest.approx(float(a10.get("y")))
    # The hour axis runs over the opening hours (09-17), widened to the 00:30 ticket.
    labels = texts(root)
    assert "00" in labels and "09" in labels and "17" in labels and "18" not in labels
    assert [t.get("data-hour") for t in marks(root, "text", "total")] == ["0", "10", "13"]


def test_average_wait_points_count_only_called_tickets(seeded):
    root = draw(seeded, "waits")
    points = {
        (p.get("data-service"), int(p.get("data-hour"))): int(p.get("data-wait-s"))
        for p in marks(root, "circle", "point")
    }
    # A at 10: (10 + 30) / 2 = 20 min; C at 13: 12 min; B and the 00:30 A were never called.
    assert points == {("pension-new", 10): 1200, ("job-seeker", 13): 720}
    targets = {
        t.get("data-service"): int(t.get("data-target-min")) for t in marks(root, "line", "target")
    }
    assert targets == {"pension-new": 15, "pension-recalc": 5, "job-seeker": 10, "unemployment": 20}
    # A higher wait is drawn higher (smaller y).
    by_key = {
        (p.get("data-service"), p.get("data-hour")): p for p in marks(root, "circle", "point")
    }
    assert float(by_key["pension-new", "10"].get("cy")) < float(
        by_key["job-seeker", "13"].get("cy")
    )


def test_week_heat_map_has_a_cell_per_day_and_hour(seeded):
    root = draw(seeded, "week")
    cells = marks(root, "rect", "cell")
    days = sorted({c.get("data-day") for c in cells})
    assert days == [(DAY - timedelta(days=i)).isoformat() for i in range(6, -1, -1)]
    hours = sorted({int(c.get("data-hour")) for c in cells})
    assert hours == list(range(0, 18))  # 00 (the night ticket) to 17 (closes 18:00)
    assert len(cells) == 7 * 18
    counts = {
        (c.get("data-day"), int(c.get("data-hour"))): int(c.get("data-count"))
        for c in cells
        if c.get("data-count") != "0"
    }
    # The ticket eight days back is outside the week.
    assert counts == {
        ("2024-03-10", 11): 1,
        ("2024-03-11", 0): 1,
        ("2024-03-11", 10): 3,
        ("2024-03-11", 13): 1,
    }
    # The busiest cell is the darkest; an empty one the lightest.
    fill = {(c.get("data-day"), c.get("data-hour")): c.get("fill") for c in cells}
    assert fill["2024-03-11", "10"] == "#08306b"
    assert fill["2024-03-09", "10"] == "#f2f6fb"
    assert "Sun 10.03" in texts(root) and "Mon 11.03" in texts(root)


@pytest.mark.parametrize(
    ("zone", "instants", "hours"),
    [
        # +05:30: 04:15 UTC is 09:45 and 04:45 UTC is 10:15 (whole UTC hours would merge them)
        ("Asia/Kolkata", [(4, 15), (4, 45)], {9: 1, 10: 1}),
        # Berlin on 2024-03-31 moves from +01:00 to +02:00 at 01:00 UTC: 01:30 and 03:30
        ("Europe/Berlin", [(0, 30), (1, 30)], {1: 1, 3: 1}),
    ],
)
def test_local_hours_in_half_hour_zones_and_across_daylight_saving(db, zone, instants, hours):
    day = date(2024, 3, 31)
    with db.write() as s:
        factories.make_center(s, "far", timezone=zone)
        for hour, minute in instants:
            issue(s, "far", "pension-new", datetime(2024, 3, 31, hour, minute, tzinfo=UTC))
    root = draw(db, "arrivals", day=day, code="far")
    bars = {int(b.get("data-hour")): int(b.get("data-count")) for b in marks(root, "rect", "bar")}
    assert bars == hours


def test_labels_follow_the_language_and_an_empty_day_says_so(seeded):
    ru = draw(seeded, "arrivals", lang="ru")
    assert ru.find(f"{SVG}title").text == "Посетители по часам, 2024-03-11"
    assert "Час дня" in texts(ru) and "Посетители" in texts(ru)
    assert "A · New pension (ru)" in texts(ru)  # the legend names services in Russian
    az_week = draw(seeded, "week", lang="az")
    assert "B.e. 11.03" in texts(az_week)
    empty = draw(seeded, "waits", day=date(2024, 1, 1))
    assert marks(empty, "circle", "point") == []
    assert "No visitors in this period" in texts(empty)


# ---- the API: who may see them --------------------------------------------------------


@pytest.fixture
def people(seeded):
    with seeded.write() as s:
        factories.make_center(s, "ganja-1")
        factories.make_staff(s, "staffer", "staff", "baku-1")
        factories.make_staff(s, "boss", "manager", "baku-1")
        factories.make_staff(s, "other-boss", "manager", "ganja-1")
        factories.make_staff(s, "root", "admin", None)
        return {
            name: factories.staff_token(s, name)
            for name in ("staffer", "boss", "other-boss", "root")
        }


def get(client, path: str, token: str | None = None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.get(f"/api/v1/centers/{path}", headers=headers)


@pytest.mark.parametrize(
    "chart",
    ["arrivals.svg?date=2024-03-11", "waits.svg?date=2024-03-11", "week.svg?end=2024-03-11"],
)
def test_managers_of_the_center_and_admins_get_the_chart(client, people, chart):
    for who in ("boss", "root"):
        response = get(client, f"baku-1/charts/{chart}&lang=en", people[who])
        assert response.status_code == 200, response.get_data(as_text=True)
        assert response.mimetype == "image/svg+xml"
        assert response.headers["Cache-Control"] == "no-store"
        root = parse(response.get_data(as_text=True))
        assert (
            marks(root, "rect", "bar")
            or marks(root, "circle", "point")
            or marks(root, "rect", "cell")
        )


@pytest.mark.parametrize("chart", ["arrivals.svg", "waits.svg", "week.svg"])
def test_staff_and_other_centers_managers_are_refused(client, people, chart):
    assert get(client, f"baku-1/charts/{chart}").status_code == 401
    assert get(client, f"baku-1/charts/{chart}", people["staffer"]).status_code == 403
    assert get(client, f"baku-1/charts/{chart}", people["other-boss"]).status_code == 403
    assert get(client, f"nowhere/charts/{chart}", people["root"]).status_code == 404


def test_the_login_cookie_is_enough_for_an_img_tag(client, people):
    login = client.post(
        "/api/v1/auth/session", json={"username": "boss", "password": factories.PASSWORD}
    )
    assert login.status_code == 201
    response = client.get("/api/v1/centers/baku-1/charts/arrivals.svg?date=2024-03-11&lang=az")
    assert response.status_code == 200
    bars = marks(parse(response.get_data(as_text=True)), "rect", "bar")
    assert sum(int(b.get("data-count")) for b in bars) == 5


def test_a_bad_date_is_refused_naming_the_parameter(client, people):
    response = get(client, "baku-1/charts/arrivals.svg?date=11.03.2024", people["boss"])
    assert response.status_code == 422
    assert response.get_json()["error"]["details"]["field"] == "date"


# ---- many services with long names: the key stays out of the plot and inside the SVG ---

LONG_WORDS = {
    "az": "Pensiya hüququnun yenidən hesablanması üçün vətəndaşın müraciəti",
    "ru": "Перерасчёт размера пенсии по старости по заявлению гражданина",
    "en": "Recalculation of the old-age pension on the citizen's application",
}
TOP = 8  # the busiest services named in the key; the rest are one "other services" row
EM = 0.72  # a conservative width of a character, in em (sans-serif letters average 0.6)


def prefix(i: int) -> str:
    """Three letters, the widest prefixes there are: WAA, WAB, ..."""
    return "W" + "ABCDEFGH"[i // 8] + "ABCDEFGH"[i % 8]


def crowded_center(s, code: str, services: int, long: bool = True) -> list[str]:
    """A center of ``services`` services (150-character names) with a visitor for
    the first eight of them and a few more for services 50 to 59; their codes."""
    codes = [f"s{i:02d}" for i in range(services)]
    names = [
        {
            lang: (f"{i} {words} " * 3)[:150] if long else f"{lang} {i}"
            for lang, words in LONG_WORDS.items()
        }  # fmt: skip
        for i in range(services)
    ]
    factories.make_center(
        s,
        code,
        categories=[
            {
                "code": "all",
                "name": names[0],
                "services": [
                    {"code": c, "prefix": prefix(i), "target_wait_min": 15, "name": names[i]}
                    for i, c in enumerate(codes)
                ],
            }
        ],
        counters=[{"label": "1", "services": codes}],
    )
    busy = codes[50:] * 3 + codes[:8]
    for minute, service in enumerate(busy):
        issue(s, code, service, baku(DAY, 10 + minute % 7, minute % 60))
    return codes


def legend_rows(root: ET.Element) -> list[ET.Element]:
    return marks(root, "text", "legend")


def right_edge(text: ET.Element) -> float:
    """The text's right edge, estimated at EM a character."""
    size = float(text.get("font-size") or 14)
    width = EM * size * len(text.text or "")
    x = float(text.get("x"))
    anchor = text.get("text-anchor") or "start"
    return x + {"start": width, "middle": width / 2, "end": 0}[anchor]


@pytest.mark.parametrize("chart", ["arrivals", "waits"])
@pytest.mark.parametrize("lang", ["az", "ru", "en"])
def test_sixty_long_named_services_fit_the_chart(db, chart, lang):
    with db.write() as s:
        crowded_center(s, "crowd", 60)
    root = draw(db, chart, lang=lang, code="crowd")
    width, height = float(root.get("width")), float(root.get("height"))
    assert root.get("viewBox") == f"0 0 {root.get('width')} {root.get('height')}"
    axis_title = {"az": "Günün saatı", "ru": "Час дня", "en": "Hour of the day"}[lang]
    (hour_title,) = [t for t in root.iter(f"{SVG}text") if t.text == axis_title]
    rows = legend_rows(root)
    for row in rows:
        assert float(hour_title.get("y")) + 14 <= float(row.get("y")) - 12  # under, no overlap
        assert float(row.get("y")) + 4 <= height
    for text in root.iter(f"{SVG}text"):
        if text.get("transform"):
            continue  # the y axis' rotated title
        assert float(text.get("x")) >= 0 and right_edge(text) <= width, text.text
    # Long names are cut with an ellipsis; the busiest services are named, the rest counted.
    assert 1 < len(rows) <= TOP + 1
    labels = [row.text for row in rows]
    assert any(label.endswith("…") for label in labels)
    other = {"az": "Digər xidmətlər (52)", "ru": "Прочие услуги (52)", "en": "Other services (52)"}
    assert labels[-1] == other[lang]
    named = {r.get("data-legend") for r in root.iter(f"{SVG}rect") if r.get("data-legend")}
    assert named == {f"s{i:02d}" for i in range(50, 58)} | {"other"}


def test_a_few_services_are_all_named_in_the_key(db):
    with db.write() as s:
        crowded_center(s, "few", 3, long=False)
    for chart in ("arrivals", "waits"):
        labels = [row.text for row in legend_rows(draw(db, chart, code="few"))]
        assert labels == ["WAA · en 0", "WAB · en 1", "WAC · en 2"]


def test_week_day_labels_stay_left_of_the_grid(seeded):
    for lang in ("az", "ru", "en"):
        root = draw(seeded, "week", lang=lang)
        grid_left = min(float(c.get("x")) for c in marks(root, "rect", "cell"))
        for text in root.iter(f"{SVG}text"):
            if text.get("text-anchor") == "end" and float(text.get("x")) < grid_left:
                size = float(text.get("font-size") or 14)
                assert float(text.get("x")) - EM * size * len(text.text) >= 0, text.text
                assert float(text.get("x")) <= grid_left - 4, text.text
