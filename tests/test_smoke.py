from server import queue
from server.models import Ticket

from . import factories


def test_issue_call_start_complete(db, center):
    with db.write() as s:
        kiosk = factories.kiosk_actor(s, center)
        staff = factories.make_staff(s, "alice")
        t1 = queue.issue_ticket(s, "baku-1", "pension-new", "az", None, kiosk).ticket
        t2 = queue.issue_ticket(s, "baku-1", "pension-new", "ru", "elderly", kiosk).ticket
        assert (t1.display_number, t2.display_number) == ("A001", "A002")
        c1 = factories.counter(s, center, "1")
        called = queue.call_next(s, c1.id, staff)
        assert called.id == t2.id  # priority first under the strict policy
        queue.start(s, called.id, staff)
        nxt = queue.call_next(s, c1.id, staff)
        assert nxt.id == t1.id
        assert s.get(Ticket, t2.id).status == "done"
