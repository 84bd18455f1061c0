"""The store's tables (SQLAlchemy 2). Times are UTC epoch seconds; JSON columns hold the
graph source, run inputs, outputs, event data and traces exactly as the API shows them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.engine import Engine, create_engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class GraphRow(Base):
    __tablename__ = "graphs"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    latest_version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)


class GraphVersionRow(Base):
    __tablename__ = "graph_versions"
    __table_args__ = (UniqueConstraint("graph_id", "version"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    graph_id: Mapped[str] = mapped_column(ForeignKey("graphs.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(64))
    source: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[float] = mapped_column(Float)


class RunRow(Base):
    """A run outlives its graph: graph_id is a plain column, not a foreign key. `owner` is
    the lease of the server process that runs it (see LeaseRow)."""

    __tablename__ = "runs"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    graph_id: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), index=True)
    owner: Mapped[str] = mapped_column(String(200), default="", index=True)  # a lease's id
    inputs: Mapped[dict[str, Any]] = mapped_column(JSON)
    outputs: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    error_node: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[float] = mapped_column(Float)
    finished_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class EventRow(Base):
    __tablename__ = "events"
    __table_args__ = (UniqueConstraint("run_id", "seq"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    node_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    t: Mapped[float] = mapped_column(Float)


class TraceRow(Base):
    __tablename__ = "traces"
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"),
                                        primary_key=True)
    trace: Mapped[dict[str, Any]] = mapped_column(JSON)


class LeaseRow(Base):
    """A serving process's claim on its runs, renewed while it lives. A run whose owner has
    no lease left unexpired will never finish: any server marks it interrupted."""

    __tablename__ = "leases"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    server: Mapped[str] = mapped_column(String(200))  # host:port, for people reading the table
    expires_at: Mapped[float] = mapped_column(Float, index=True)


class CheckpointRow(Base):
    """A run's state after its last finished node (executor.Checkpoint.to_dict())."""

    __tablename__ = "checkpoints"
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"),
                                        primary_key=True)
    state: Mapped[dict[str, Any]] = mapped_column(JSON)
    t: Mapped[float] = mapped_column(Float)


def connect(url: str) -> Engine:
    """An engine for `url` with the tables created. SQLite gets WAL and a busy timeout so
    a second process (or a restart) can read while the first writes."""
    is_sqlite = url.startswith("sqlite")
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": 30} if is_sqlite else {},
        pool_pre_ping=not is_sqlite,
    )
    if is_sqlite:
        event.listen(engine, "connect", _sqlite_pragmas)
    create_tables(engine)
    return engine


SCHEMA_LOCK = 0x666C6F7763  # a PostgreSQL advisory lock key: servers create tables in turn
SCHEMA_ATTEMPTS = 5


def create_tables(engine: Engine) -> None:
    """Create the missing tables; servers starting together on one PostgreSQL database take
    turns (concurrent CREATE TABLE of one name collide in its catalog). On SQLite, a table
    another server created between the check and the create is checked for again."""
    for attempt in range(SCHEMA_ATTEMPTS):
        try:
            with engine.begin() as connection:
                if engine.dialect.name == "postgresql":
                    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                                       {"key": SCHEMA_LOCK})
                Base.metadata.create_all(connection)
            return
        except OperationalError as exc:
            if "already exists" not in str(exc) or attempt == SCHEMA_ATTEMPTS - 1:
                raise


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")  # with WAL: survives a crash of the process
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
