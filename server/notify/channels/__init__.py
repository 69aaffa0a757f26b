"""The channels the outbox sends through, by name (see base.py for the interface)."""
