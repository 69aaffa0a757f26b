"""CPU-heavy password work (scrypt) kept off the event loop.

``novbe serve`` runs every request as a greenlet on ONE OS thread (gunicorn's gevent
worker): a 100-140 ms scrypt there stalls every kiosk, display and counter for as long.
hashlib.scrypt releases the GIL (measured: a thread hashing in a loop let the main
thread run every ~1 ms, where a pure-Python thread stalled it for 10 ms at a time), so
under gevent the work goes to a small native thread pool and the calling greenlet waits
cooperatively. Elsewhere (tests, the development server, the CLI: real threads or no
concurrency at all) it is a plain call.

Few threads: scrypt is memory-bound (32 MB per hash with Werkzeug's defaults). On 2
cores, two hashes in parallel took as long as two in a row, and each more thread is
another 32 MB and a core taken from the event loop; waiting logins queue here instead.
Two pools: login checks (which anyone can send) queue apart from the hashing of new
passwords, which runs inside a manager's write transaction and must not wait behind an
attack's queue of wrong passwords.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

POOL_THREADS = max(1, (os.cpu_count() or 2) // 2)
POOLS = ("login", "store")

_pools: dict[str, Any] = {}
_pools_pid: int | None = None


def gevent_patched() -> bool:
    """True in a process gevent has monkey-patched (the production worker)."""
    monkey = sys.modules.get("gevent.monkey")
    return monkey is not None and monkey.is_module_patched("threading")


def off_the_loop(fn: Callable[..., T], *args: Any, pool: str = "login") -> T:
    """``fn(*args)``, run in a native thread of ``pool`` when gevent drives this process;
    its result or its exception comes back to the caller either way."""
    if not gevent_patched():
        return fn(*args)
    return _thread_pool(pool).apply(fn, args)


def _thread_pool(name: str) -> Any:
    global _pools_pid
    if _pools_pid != os.getpid():  # a forked process builds its own
        _pools.clear()
        _pools_pid = os.getpid()
    if name not in _pools:
        from gevent.threadpool import ThreadPool

        assert name in POOLS, name
        _pools[name] = ThreadPool(POOL_THREADS)
    return _pools[name]
