"""Administrative changes to a center: its settings, the service catalog, counters,
staff and devices, and the audit log of those changes.

One function per change, used by every entry point: the admin page and the JSON API
(server/api/admin.py, server/api/centers.py) and ``novbe import-center``
(server/importer.py) all create and change these through the functions below, so they
accept the same values, leave the same audit entries and announce the same changes.

Invariants, as in the queue engine (server/queue/):

* Plain functions over a session; nothing here reads Flask's request, and nothing
  commits: the caller owns the transaction (``Database.write()``), so a refused change,
  or a refused line of a center file, leaves nothing written. Callers check who may
  (:func:`require_admin`) before calling.
* ``now`` is passed in (the current time when None), and is the audit entry's time.
* Everything a call changes is checked before anything is applied; a refusal is
  :class:`~server.errors.InvalidInput` naming the field (validation.py).
* Every change writes an audit entry in the same transaction (audit.py): the log
  cannot miss a change nor record one that rolled back. An update records only the
  fields that changed, and a call that changes nothing records (and announces) nothing.
* Every change that screens show is announced (server/queue/changes.py), and reaches
  them once the transaction commits: the catalog and center settings as a center
  change, a counter's services as a counter change, a device's settings as a device
  change.

Modules: settings.py (the center), catalog.py (categories, services), counters.py,
staff.py, devices.py, audit.py (apply a change and write the log; read it),
validation.py (the field rules, and that a row named is the center's), access.py (who
may).
"""

from .access import require_admin
from .audit import AUDIT_PAGE_SIZE, list_audit, record, record_update
from .catalog import (
    SERVICE_FIELDS,
    category_state,
    create_category,
    create_service,
    get_category_at,
    service_state,
    update_category,
    update_service,
)
from .counters import counter_state, create_counter, get_counter_at, set_counter_services
from .devices import (
    create_device,
    device_state,
    get_device_at,
    rotate_device_token,
    update_device,
)
from .settings import (
    CALENDAR_FIELDS,
    CENTER_FIELDS,
    center_json,
    center_state,
    create_center,
    update_center,
)
from .staff import create_staff, get_staff_at, reset_password, staff_state, update_staff

__all__ = [
    "AUDIT_PAGE_SIZE",
    "CALENDAR_FIELDS",
    "CENTER_FIELDS",
    "SERVICE_FIELDS",
    "category_state",
    "center_json",
    "center_state",
    "counter_state",
    "create_category",
    "create_center",
    "create_counter",
    "create_device",
    "create_service",
    "create_staff",
    "device_state",
    "get_category_at",
    "get_counter_at",
    "get_device_at",
    "get_staff_at",
    "list_audit",
    "record",
    "record_update",
    "require_admin",
    "reset_password",
    "rotate_device_token",
    "service_state",
    "set_counter_services",
    "staff_state",
    "update_category",
    "update_center",
    "update_device",
    "update_service",
    "update_staff",
]
