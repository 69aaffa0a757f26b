"""Importing a center file (YAML or JSON): creating, updating, and refusing bad files
with a message naming the field or line, without writing anything."""

from __future__ import annotations

import json
from datetime import time

import pytest
import yaml
from sqlalchemy import select

from server import queue
from server.importer import IMPORTER, CenterFileError, import_center, load_center_file
from server.models import (
    AuditEntry,
    Base,
    Center,
    Counter,
    Device,
    Service,
    ServiceCategory,
    Ticket,
)

from . import factories
from .test_live_channel import NS, connect, events


def snapshot(db) -> dict[str, list]:
    """Every row of every table, to prove a failed import wrote nothing."""
    with db.read() as s:
        return {
            table.name: sorted((tuple(row) for row in s.execute(select(table))), key=repr)
            for table in Base.metadata.sorted_tables
        }


def write(path, spec: dict):
    if path.suffix == ".json":
        path.write_text(json.dumps(spec, ensure_ascii=False, indent=2), encoding="utf-8")
    else:
        path.write_text(yaml.safe_dump(spec, allow_unicode=True, sort_keys=False), "utf-8")
    return path


def import_file(db, path):
    with db.write() as s:
        return import_center(s, load_center_file(path))


def center_state(db, code: str = "baku-1") -> dict:
    """The imported catalog as plain data."""
    with db.read() as s:
        center = s.scalar(select(Center).where(Center.code == code))
        services = s.scalars(
            select(Service).where(Service.center_id == center.id).order_by(Service.code)
        ).all()
        by_id = {svc.id: svc.code for svc in services}
        return {
            "center": (
                center.name,
                center.timezone,
                center.opens_at,
                center.closes_at,
                center.priority_classes,
                center.call_policy,
                center.priority_ratio,
                center.recalls_before_no_show,
            ),
            "categories": [(c.code, c.name["en"], c.position) for c in center.categories],
            "services": {
                svc.code: (
                    s.get(ServiceCategory, svc.category_id).code,
                    svc.prefix,
                    svc.name["en"],
                    svc.target_wait_min,
                    svc.default_service_min,
                    svc.daily_quota,
                    svc.active,
                )
                for svc in services
            },
            "counters": {
                c.label: [by_id[i] for i in c.service_ids]
                for c in s.scalars(select(Counter).where(Counter.center_id == center.id))
            },
            "devices": sorted(
                (d.name, d.kind)
                for d in s.scalars(select(Device).where(Device.center_id == center.id))
            ),
        }


EXPECTED = {
    "center": (
        factories.names("Center baku-1"),
        "Asia/Baku",
        time(9, 0),
        time(18, 0),
        ["disability", "elderly", "veteran", "pregnant"],
        "strict",
        2,
        1,
    ),
    "categories": [("pensions", "Pensions", 0), ("employment", "Employment", 1)],
    "services": {
        "job-seeker": ("employment", "C", "Job seeker registration", 10, 5, None, True),
        "pension-new": ("pensions", "A", "New pension", 15, 5, None, True),
        "pension-recalc": ("pensions", "B", "Pension recalculation", 5, 5, None, True),
        "unemployment": ("employment", "D", "Unemployment benefit", 20, 5, 3, True),
    },
    "counters": {
        "1": ["pension-new", "pension-recalc"],
        "2": ["pension-recalc", "pension-new", "job-seeker"],  # order of preference kept
        "3": ["job-seeker", "unemployment"],
    },
    "devices": [("hall", "display"), ("kiosk-1", "kiosk")],
}


# --- good files --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["center.yaml", "center.yml", "center.json", "CENTER.JSON"])
def test_a_good_file_creates_the_center(db, tmp_path, name):
    path = write(tmp_path / name, factories.center_spec())
    if name == "CENTER.JSON":  # the suffix decides the parser, in any case
        path.write_text(json.dumps(factories.center_spec()), encoding="utf-8")
    summary = import_file(db, path)
    assert (summary.center, summary.created) == ("baku-1", True)
    assert (summary.categories, summary.services, summary.counters, summary.devices) == (
        2,
        4,
        3,
        2,
    )
    assert center_state(db) == EXPECTED
    with db.read() as s:
        counters = s.scalars(select(Counter)).all()
        assert {c.state for c in counters} == {"closed"}
        # Devices get no token from an import: `novbe device-token` issues it.
        assert {d.token_hash for d in s.scalars(select(Device))} == {None}


def test_the_readme_style_yaml_with_unquoted_times_and_unicode(db, tmp_path):
    path = tmp_path / "baku-3.yaml"
    path.write_text(
        """\
code: baku-3
name: {az: "DOST mərkəzi №3", ru: "Центр DOST №3", en: "DOST center No. 3"}
timezone: Asia/Baku
hours: {open: 09:30, close: 18:00}   # YAML 1.1 reads these as numbers
priority_classes: [disability, elderly, veteran, pregnant]
call_policy: ratio
priority_ratio: 3
categories:
  - code: pensions
    name: {az: Pensiyalar, ru: Пенсии, en: Pensions}
    services:
      - code: pension-new
        prefix: A
        target_wait_min: 15
        name: {az: Yeni pensiya, ru: Новая пенсия, en: New pension}
counters:
  - {label: 1, services: [pension-new]}
devices:
  - {kind: kiosk, name: kiosk-1}
  - {kind: display, name: hall}
""",
        encoding="utf-8",
    )
    import_file(db, path)
    state = center_state(db, "baku-3")
    name, tz, opens, closes, _, policy, ratio, _ = state["center"]
    assert name == {"az": "DOST mərkəzi №3", "ru": "Центр DOST №3", "en": "DOST center No. 3"}
    assert (opens, closes, policy, ratio) == (time(9, 30), time(18, 0), "ratio", 3)
    assert state["counters"] == {"1": ["pension-new"]}  # a numeric label becomes text


def test_the_largest_accepted_values_import_and_issue(db, tmp_path):
    spec = factories.center_spec(priority_classes=["a" * 32], priority_ratio=100)
    service = spec["categories"][0]["services"][0]
    service.update(target_wait_min=24 * 60, default_service_min=24 * 60, daily_quota=100_000)
    import_file(db, write(tmp_path / "center.yaml", spec))
    with db.write() as s:
        center = s.scalar(select(Center).where(Center.code == "baku-1"))
        kiosk = factories.kiosk_actor(s, center)
        ticket = queue.issue_ticket(s, "baku-1", "pension-new", "az", "a" * 32, kiosk).ticket
        assert (ticket.display_number, ticket.priority) == ("A001", "a" * 32)


def test_importing_the_same_file_twice_changes_nothing(db, tmp_path):
    path = write(tmp_path / "center.yaml", factories.center_spec())
    import_file(db, path)
    before = snapshot(db)
    summary = import_file(db, path)
    assert summary.created is False
    assert snapshot(db) == before


def test_reimport_updates_and_deactivates_missing_services_without_touching_tickets(db, tmp_path):
    path = tmp_path / "center.yaml"
    import_file(db, write(path, factories.center_spec()))
    with db.write() as s:
        center = s.scalar(select(Center).where(Center.code == "baku-1"))
        kiosk = factories.kiosk_actor(s, center)
        staff = factories.make_staff(s, "alice")
        recalc = queue.issue_ticket(s, "baku-1", "pension-recalc", "az", None, kiosk).ticket
        waiting = queue.issue_ticket(s, "baku-1", "job-seeker", "ru", None, kiosk).ticket
        queue.call_next(s, factories.counter(s, center, "1").id, staff)
        ids = (recalc.id, waiting.id)
    with db.read() as s:
        tickets_before = [
            (t.id, t.service_id, t.display_number, t.status, t.counter_id)
            for t in s.scalars(select(Ticket).order_by(Ticket.id))
        ]

    spec = factories.center_spec()
    spec["name"]["en"] = "Renamed center"
    spec["hours"] = {"open": "08:00", "close": "20:00"}
    spec["call_policy"] = "ratio"
    pensions, employment = spec["categories"]
    pensions["services"][0]["target_wait_min"] = 25
    del pensions["services"][1]  # pension-recalc leaves the catalog
    employment["services"].append(
        {"code": "passport", "prefix": "P", "target_wait_min": 30, "name": factories.names("Pass")}
    )
    spec["categories"] = [employment, pensions]  # reordered
    spec["counters"] = [
        {"label": "1", "services": ["pension-new"]},
        {"label": "2", "services": ["passport", "job-seeker", "pension-new"]},
        {"label": "4", "services": ["passport"]},
    ]  # counter 3 leaves, counter 4 is new
    spec["devices"].append({"kind": "kiosk", "name": "kiosk-2"})
    summary = import_file(db, write(path, spec))
    assert (summary.created, summary.services, summary.counters, summary.devices) == (
        False,
        4,
        3,
        3,
    )

    state = center_state(db)
    assert state["center"][0]["en"] == "Renamed center"
    assert state["center"][2:4] == (time(8, 0), time(20, 0))
    assert state["center"][5] == "ratio"
    assert state["categories"] == [("employment", "Employment", 0), ("pensions", "Pensions", 1)]
    assert state["services"]["pension-new"][3] == 25
    assert state["services"]["passport"] == ("employment", "P", "Pass", 30, 5, None, True)
    # Kept (tickets refer to it) but no longer offered.
    assert state["services"]["pension-recalc"][-1] is False
    assert [code for code, row in state["services"].items() if not row[-1]] == ["pension-recalc"]
    assert state["counters"] == {
        "1": ["pension-new"],
        "2": ["passport", "job-seeker", "pension-new"],
        "3": [],  # kept for its history, serves nothing
        "4": ["passport"],
    }
    assert ("kiosk-2", "kiosk") in state["devices"]
    with db.read() as s:
        tickets_after = [
            (t.id, t.service_id, t.display_number, t.status, t.counter_id)
            for t in s.scalars(select(Ticket).order_by(Ticket.id))
        ]
        assert s.scalar(select(Center.code).where(Center.code == "baku-1")) == "baku-1"
        assert len(s.scalars(select(Center)).all()) == 1
    assert tickets_after == tickets_before
    assert [t[3] for t in tickets_after] == ["called", "waiting"]
    assert [t[0] for t in tickets_after] == list(ids)

    # Bringing the service back reactivates it.
    import_file(db, write(path, factories.center_spec()))
    assert center_state(db)["services"]["pension-recalc"][-1] is True


def test_reimport_keeps_device_tokens(db, tmp_path, client):
    path = write(tmp_path / "center.yaml", factories.center_spec())
    import_file(db, path)
    with db.write() as s:
        center = s.scalar(select(Center).where(Center.code == "baku-1"))
        token = factories.device_token(s, center, "kiosk-1")
    import_file(db, path)
    r = client.post(
        "/api/v1/centers/baku-1/tickets",
        json={"service": "pension-new", "language": "az"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 201


# --- the audit log, and the screens ------------------------------------------------------


def audit(db) -> list[tuple]:
    """The audit log, oldest first: (by whom, type, id, action, before, after)."""
    with db.read() as s:
        return [
            (e.username, e.entity_type, e.entity_id, e.action, e.before, e.after)
            for e in s.scalars(select(AuditEntry).order_by(AuditEntry.id))
        ]


def test_an_import_is_audited_and_the_same_file_again_audits_nothing(db, tmp_path):
    path = write(tmp_path / "center.yaml", factories.center_spec())
    import_file(db, path)
    entries = audit(db)
    assert {entry[0] for entry in entries} == {IMPORTER.name}  # by the system, not staff
    assert [(kind, name, action) for _, kind, name, action, _, _ in entries] == [
        ("center", "baku-1", "create"),
        ("category", "pensions", "create"),
        ("category", "employment", "create"),
        ("service", "pension-new", "create"),
        ("service", "pension-recalc", "create"),
        ("service", "job-seeker", "create"),
        ("service", "unemployment", "create"),
        ("counter", "1", "create"),
        ("counter", "2", "create"),
        ("counter", "3", "create"),
        ("device", "kiosk-1", "create"),
        ("device", "hall", "create"),
    ]
    assert entries[6][5]["daily_quota"] == 3 and entries[8][5]["services"] == [
        "pension-recalc",
        "pension-new",
        "job-seeker",
    ]
    with db.read() as s:
        assert {e.staff_id for e in s.scalars(select(AuditEntry))} == {None}

    import_file(db, path)
    assert audit(db) == entries


def test_a_reimport_audits_each_change_and_a_display_gets_its_new_settings(
    app, db, center, tmp_path
):
    with db.write() as s:
        display_token = factories.device_token(s, center, "hall")
        kiosk_token = factories.device_token(s, center, "kiosk-1")
    display, kiosk = connect(app, token=display_token), connect(app, token=kiosk_token)
    assert display.is_connected(NS) and kiosk.is_connected(NS)
    display.get_received(NS), kiosk.get_received(NS)  # the snapshots
    before = audit(db)

    spec = factories.center_spec()
    spec["categories"][0]["services"][1]["default_service_min"] = 7  # pension-recalc
    spec["counters"][2]["services"] = ["unemployment"]  # counter 3
    spec["devices"][1]["settings"] = {"counters": ["3"], "language": "ru"}  # hall
    import_file(db, write(tmp_path / "center.yaml", spec))

    assert audit(db)[len(before) :] == [
        (
            "import-center",
            "service",
            "pension-recalc",
            "update",
            {"default_service_min": 5},
            {"default_service_min": 7},
        ),
        (
            "import-center",
            "counter",
            "3",
            "update",
            {"services": ["job-seeker", "unemployment"]},
            {"services": ["unemployment"]},
        ),
        (
            "import-center",
            "device",
            "hall",
            "update",
            {"settings": {}},
            {"settings": {"counters": ["3"], "language": "ru"}},
        ),
    ]
    assert events(display, "device.updated") == [
        {"device": "hall", "settings": {"counters": ["3"], "language": "ru"}}
    ]
    assert events(kiosk, "device.updated") == []  # only the device whose settings changed


def test_a_prefix_passes_from_one_service_to_another_in_one_import(db, center, tmp_path):
    """pension-new comes first in the file and takes B, which pension-recalc gives up."""
    spec = factories.center_spec()
    pension_new, pension_recalc = spec["categories"][0]["services"]
    pension_new["prefix"], pension_recalc["prefix"] = "B", "E"
    import_file(db, write(tmp_path / "center.yaml", spec))
    services = center_state(db)["services"]
    assert (services["pension-new"][1], services["pension-recalc"][1]) == ("B", "E")
    prefixes = [e[4:] for e in audit(db) if e[1] == "service" and e[3] == "update"]
    assert prefixes == [({"prefix": "B"}, {"prefix": "E"}), ({"prefix": "A"}, {"prefix": "B"})]


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        # Swapped: at no moment is either prefix free.
        ({"pension-new": "B", "pension-recalc": "A"}, "categories[0].services[0].prefix",
         "'B' is already used by 'pension-recalc'"),
        # Kept by a service the file leaves out (deactivated, its numbers on old tickets).
        ({"pension-recalc": None, "job-seeker": "B"}, "categories[1].services[0].prefix",
         "'B' is already used by 'pension-recalc'"),
    ],
)  # fmt: skip
def test_a_prefix_still_taken_is_refused_and_nothing_is_written(
    db, center, tmp_path, change, field, words
):
    spec = factories.center_spec()
    for category in spec["categories"]:
        for service in list(category["services"]):
            if service["code"] in change and change[service["code"]] is None:
                category["services"].remove(service)
            elif service["code"] in change:
                service["prefix"] = change[service["code"]]
    spec["counters"] = [{"label": "1", "services": ["pension-new"]}]
    before = snapshot(db)
    with pytest.raises(CenterFileError) as raised:
        import_file(db, write(tmp_path / "center.yaml", spec))
    assert raised.value.details == {"field": field}
    assert raised.value.message == f"{field}: {words}"
    assert snapshot(db) == before


# --- bad files -----------------------------------------------------------------------------


def _set(path: str, value):
    """A mutation setting ``categories[0].services[1].prefix``-style paths in a spec."""

    def mutate(spec: dict) -> None:
        *parents, last = _steps(path)
        node = spec
        for step in parents:
            node = node[step]
        node[last] = value

    return mutate


def _delete(path: str):
    def mutate(spec: dict) -> None:
        *parents, last = _steps(path)
        node = spec
        for step in parents:
            node = node[step]
        del node[last]

    return mutate


def _steps(path: str) -> list:
    steps: list = []
    for part in path.split("."):
        name, *indexes = part.replace("]", "").split("[")
        steps.append(name)
        steps.extend(int(i) for i in indexes)
    return steps


BAD_FILES = [
    # (mutation, field named in the error, words in the message)
    (_set("categories[1].services[0].prefix", "A"), "categories[1].services[0].prefix", "A"),
    (_set("categories[0].services[1].prefix", "A"), "categories[0].services[1].prefix", "A"),
    (_set("categories[1].services[1].code", "pension-new"), "categories[1].services[1].code",
     "duplicate service code 'pension-new'"),
    (_set("categories[1].code", "pensions"), "categories[1].code", "duplicate category code"),
    (_set("categories[0].services[1].prefix", "b"), "categories[0].services[1].prefix", ""),
    (_set("categories[0].services[1].prefix", "ABCD"), "categories[0].services[1].prefix", ""),
    (_delete("categories[0].services[1].prefix"), "categories[0].services[1].prefix", ""),
    (_set("timezone", "Mars/Olympus_Mons"), "timezone", "Mars/Olympus_Mons"),
    (_set("timezone", "Baku"), "timezone", "unknown time zone"),
    (_set("hours", {"open": "25:00", "close": "18:00"}), "hours.open", "09:00"),
    (_set("hours", {"open": "09:00", "close": "6pm"}), "hours.close", ""),
    (_set("hours", {"open": "18:00", "close": "09:00"}), "hours", "later than open"),
    (_set("hours", {"open": "09:00", "close": "09:00"}), "hours", "later than open"),
    (_set("hours", {"open": "09:00"}), "hours.close", ""),
    (_set("hours", "09:00-18:00"), "hours", "mapping"),
    (_set("counters[1].services", ["pension-new", "passports"]), "counters[1].services",
     "unknown service 'passports'"),
    (_set("counters[0].services", ["pension-new", "pension-new"]), "counters[0].services",
     "twice"),
    (_set("counters[2].label", "1"), "counters[2].label", "duplicate counter label"),
    (_set("counters[0].services", []), "counters[0].services", "empty"),
    (_set("code", "Baku 1"), "code", ""),
    (_delete("name"), "name", ""),
    (_set("name", {"az": "a", "ru": "b"}), "name.en", "missing"),
    (_set("categories[0].name", {"az": "a", "ru": " ", "en": "c"}), "categories[0].name.ru", ""),
    (_set("categories[0].name", {"az": "a", "ru": "b", "en": "c", "de": "d"}),
     "categories[0].name", "de"),
    (_set("categories[0].services[0].target_wait_min", -1),
     "categories[0].services[0].target_wait_min", ""),
    (_set("categories[0].services[0].target_wait_min", "15"),
     "categories[0].services[0].target_wait_min", ""),
    (_set("categories[0].services[0].default_service_min", 0),
     "categories[0].services[0].default_service_min", ""),
    (_set("categories[1].services[1].daily_quota", -3), "categories[1].services[1].daily_quota",
     ""),
    (_set("categories[1].services[1].active", "yes"), "categories[1].services[1].active", ""),
    (_set("categories[1].services", []), "categories[1].services", "empty"),
    (_set("categories[1].services[0]", "job-seeker"), "categories[1].services[0]", "mapping"),
    (_set("categories", []), "categories", "empty"),
    (_delete("categories"), "categories", "required"),
    (_set("priority_classes", ["Disabled people"]), "priority_classes", ""),
    (_set("call_policy", "random"), "call_policy", "strict"),
    (_set("priority_ratio", 0), "priority_ratio", ""),
    (_set("recalls_before_no_show", -1), "recalls_before_no_show", ""),
    (_set("devices[0].kind", "printer"), "devices[0].kind", "kiosk"),
    (_set("devices[1].name", "kiosk-1"), "devices[1].name", "duplicate device name"),
    (_set("devices[0].settings", ["x"]), "devices[0].settings", "mapping"),
    (_set("counters", {"label": "1"}), "counters", "list"),
    # Out of range for the columns (PostgreSQL refused these mid-import, or at issue time).
    (_set("categories[0].services[0].target_wait_min", 10**10),
     "categories[0].services[0].target_wait_min", "1440"),
    (_set("categories[0].services[0].target_wait_min", 1441),
     "categories[0].services[0].target_wait_min", "1440"),
    (_set("categories[0].services[1].default_service_min", 10**10),
     "categories[0].services[1].default_service_min", ""),
    (_set("categories[1].services[1].daily_quota", 10**10),
     "categories[1].services[1].daily_quota", ""),
    (_set("categories[1].services[1].daily_quota", True),
     "categories[1].services[1].daily_quota", ""),
    (_set("priority_ratio", 10**10), "priority_ratio", ""),
    (_set("recalls_before_no_show", 11), "recalls_before_no_show", ""),
    (_set("priority_classes", ["elderly", "a" * 33]), "priority_classes", ""),
    # The admin page's rules hold for a file too (server/admin/).
    (_set("priority_classes", ["elderly", "elderly"]), "priority_classes", "different"),
    (_set("timezone", "Asia"), "timezone", "unknown time zone"),  # a folder of zones
    (_set("devices[1].settings", {"printer": "tcp://10.0.0.5"}), "devices[1].settings.printer",
     "only a kiosk has a printer"),
    (_set("devices[0].settings", {"printer": "lpt1"}), "devices[0].settings.printer", ""),
    (_set("counters[0].label", " "), "counters[0].label", "short text"),
]  # fmt: skip


@pytest.mark.parametrize(("mutate", "field", "words"), BAD_FILES, ids=[c[1] for c in BAD_FILES])
@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_a_bad_file_names_the_field_and_writes_nothing(
    db, center, tmp_path, mutate, field, words, suffix
):
    """The center exists already: a bad re-import must leave it exactly as it was."""
    spec = factories.center_spec()
    spec["name"]["en"] = "Should not stick"  # a good change before the bad one
    spec["categories"][0]["services"][0]["target_wait_min"] = 99
    mutate(spec)
    path = write(tmp_path / f"center{suffix}", spec)
    before = snapshot(db)
    with pytest.raises(CenterFileError) as raised:
        import_file(db, path)
    error = raised.value
    assert error.details == {"field": field}
    assert error.message.startswith(f"{field}: ")
    assert words in error.message
    assert (error.status, error.code) == (422, "invalid_center_file")
    assert snapshot(db) == before


@pytest.mark.parametrize(
    ("mutate", "field", "words"),
    BAD_FILES[:3] + BAD_FILES[7:10],
    ids=[c[1] for c in BAD_FILES[:3] + BAD_FILES[7:10]],
)
def test_a_bad_new_center_creates_nothing(db, tmp_path, mutate, field, words):
    spec = factories.center_spec("new-1")
    mutate(spec)
    path = write(tmp_path / "new.yaml", spec)
    before = snapshot(db)
    with pytest.raises(CenterFileError) as raised:
        import_file(db, path)
    assert raised.value.details == {"field": field}
    assert snapshot(db) == before


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("code: baku-1\nname: {az: a, ru: b, en: c}\ntimezone: Asia/Baku\ncategories: x: y\n", 4),
        (
            "code: baku-1\nname: {az: a, ru: b, en: c}\ncategories:\n  - code: pensions\n"
            "    name: {az: a, ru: b, en: c\n    services: []\n",
            6,
        ),
        ("code: baku-1\n\tname: x\n", 2),
        ("code: baku-1\nname: 'unterminated\n", 3),
    ],
)
def test_a_yaml_syntax_error_names_the_line(db, center, tmp_path, text, line):
    path = tmp_path / "broken.yaml"
    path.write_text(text, encoding="utf-8")
    before = snapshot(db)
    with pytest.raises(CenterFileError) as raised:
        import_file(db, path)
    assert raised.value.message.startswith(f"{path}: line {line}: "), raised.value.message
    assert snapshot(db) == before


def test_a_json_syntax_error_names_the_line(db, center, tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{\n  "code": "baku-1",\n  "name": {},\n}\n', encoding="utf-8")
    with pytest.raises(CenterFileError) as raised:
        load_center_file(path)
    assert raised.value.message.startswith(f"{path}: line 4: ")


@pytest.mark.parametrize(
    ("name", "text", "words"),
    [
        ("list.yaml", "- code: baku-1\n", "must hold one center"),
        ("empty.yaml", "", "must hold one center"),
        ("scalar.json", '"baku-1"', "must hold one center"),
    ],
)
def test_a_file_that_is_not_one_center_is_refused(tmp_path, name, text, words):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CenterFileError) as raised:
        load_center_file(path)
    assert words in raised.value.message


def test_a_missing_file_is_refused(tmp_path):
    with pytest.raises(CenterFileError) as raised:
        load_center_file(tmp_path / "nope.yaml")
    assert "cannot read file" in raised.value.message


def test_a_yaml_file_is_parsed_safely(db, tmp_path):
    path = tmp_path / "evil.yaml"
    spec_text = yaml.safe_dump(factories.center_spec(), sort_keys=False)
    path.write_text(
        spec_text.replace("code: baku-1", "code: !!python/object/apply:os.getcwd []", 1)
    )
    with pytest.raises(CenterFileError):
        load_center_file(path)
