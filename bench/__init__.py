"""Benchmarks: ``python -m bench.run [--smoke] [--only NAME]`` or ``make bench``.

Each scenario is a module with ``NAME``, ``TITLE`` and ``run(ctx) -> dict``; they run
against one real ``novbe serve`` process (gunicorn, one gevent worker, SQLite) started
by tests/live.py, as in production. Benchmarks are not tests: nothing here asserts a
time; tests/test_bench_smoke.py only checks that the smoke mode runs.
"""
