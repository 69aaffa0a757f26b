"""SQLite's durability setting: FULL unless the installation chooses otherwise."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from server import create_app
from server.config import Config
from server.db import make_engine

# PRAGMA synchronous answers with a number.
SYNCHRONOUS_LEVELS = {"NORMAL": 1, "FULL": 2, "EXTRA": 3}


def synchronous_level(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("PRAGMA synchronous")).scalar_one()


def test_production_default_syncs_every_commit(tmp_path):
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'a.db'}"})
    assert Config.SQLITE_SYNCHRONOUS == "FULL"
    engine = app.extensions["novbe_db"].engine
    assert synchronous_level(engine) == SYNCHRONOUS_LEVELS["FULL"]
    with engine.connect() as conn:  # and still WAL, so readers never wait for the writer
        assert conn.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"


@pytest.mark.parametrize("mode", ["normal", "FULL", "Extra"])
def test_an_installation_can_choose_the_mode(tmp_path, mode):
    engine = make_engine(f"sqlite:///{tmp_path / 'b.db'}", sqlite_synchronous=mode)
    assert synchronous_level(engine) == SYNCHRONOUS_LEVELS[mode.upper()]


def test_an_unknown_mode_is_refused_by_name(tmp_path):
    with pytest.raises(ValueError, match="NOVBE_SQLITE_SYNCHRONOUS") as error:
        make_engine(f"sqlite:///{tmp_path / 'c.db'}", sqlite_synchronous="OFF")
    assert "NORMAL, FULL, EXTRA" in str(error.value)
