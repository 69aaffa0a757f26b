"""Notifications to visitors and signed webhooks to other systems, through one durable
outbox (outbox.py; the invariants are in server/models/notifications.py).

Producers write outbox rows inside the transaction of the change that causes them
(``Database.before_commit``); one worker per installation sends them (worker.py);
channels (channels/) each know one way to reach someone.
"""
