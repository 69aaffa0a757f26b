"""The queue engine: plain functions over SQLAlchemy sessions.

HTTP views, Socket.IO handlers, the CLI and the tests all call these. They never
commit; the caller owns the transaction (``Database.write()``), so an error
leaves nothing half-written.
"""

from .actor import SYSTEM, Actor
from .calling import (
    OUT_OF_ORDER_REASONS,
    NextCallable,
    call_next,
    call_ticket,
    next_callable,
    rank_heads,
)
from .counters import PAUSE_REASONS, set_counter_state
from .daily import expire_after_closing, expire_all_centers
from .estimates import (
    TicketEstimate,
    estimate,
    estimates_for,
    position,
    positions,
    queue_stats,
)
from .issuing import IssueResult, issue_ticket
from .loads import open_counters, service_loads
from .numbering import business_day, next_number
from .transitions import (
    cancel,
    complete,
    current_ticket,
    no_show,
    park,
    recall,
    resume,
    start,
    transfer,
)

__all__ = [
    "OUT_OF_ORDER_REASONS",
    "PAUSE_REASONS",
    "SYSTEM",
    "Actor",
    "IssueResult",
    "NextCallable",
    "TicketEstimate",
    "business_day",
    "call_next",
    "call_ticket",
    "cancel",
    "complete",
    "current_ticket",
    "estimate",
    "estimates_for",
    "expire_after_closing",
    "expire_all_centers",
    "issue_ticket",
    "next_callable",
    "next_number",
    "no_show",
    "open_counters",
    "park",
    "position",
    "positions",
    "queue_stats",
    "rank_heads",
    "recall",
    "resume",
    "service_loads",
    "set_counter_state",
    "start",
    "transfer",
]
