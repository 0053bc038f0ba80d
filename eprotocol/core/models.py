"""Database tables of the archive (SQLModel).

Rows are internal: the library hands callers the frozen value types of
:mod:`eprotocol.core.types`, never these objects. Enumerations are stored as
short strings (validated in Python) so that migrations stay plain on both
SQLite and PostgreSQL. Every timestamp is stored in UTC.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlmodel import Field, SQLModel

from eprotocol.core.types import BOOK_CODE_MAX, DEPARTMENT_CODE_MAX


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """A timezone-aware timestamp stored in UTC on every database.

    SQLite has no time-zone type, so values go in as naive UTC and come back
    aware; PostgreSQL uses ``timestamptz``. Naive datetimes are refused, since a
    protocol book with ambiguous times is worthless.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Normalise to UTC (naive on SQLite)."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: timestamps must carry a time zone")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Return an aware UTC datetime."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _timestamp(*, index: bool = False, nullable: bool = False) -> Any:
    return Field(sa_type=UTCDateTime, index=index, nullable=nullable)


class OrganisationRow(SQLModel, table=True):
    """The municipality that keeps this archive (exactly one row)."""

    __tablename__ = "organisation"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    created_at: datetime = _timestamp()


class BookRow(SQLModel, table=True):
    """A protocol book: an independent numbering series (``general``, ``confidential``...)."""

    __tablename__ = "protocol_book"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=BOOK_CODE_MAX, unique=True)
    name: str = Field(max_length=200)
    created_at: datetime = _timestamp()


class ClassificationRow(SQLModel, table=True):
    """A heading of the filing plan: how long its documents are kept and what happens then."""

    __tablename__ = "classification"

    code: str = Field(primary_key=True, max_length=64)
    title: str = Field(max_length=300)
    retention_years: int
    disposal: str = Field(max_length=16)


class CounterRow(SQLModel, table=True):
    """The last number handed out in one book for one calendar year."""

    __tablename__ = "book_counter"

    book_id: int = Field(foreign_key="protocol_book.id", primary_key=True)
    year: int = Field(primary_key=True)
    last_number: int


class RegistrationRow(SQLModel, table=True):
    """One entry of a protocol book."""

    __tablename__ = "registration"
    __table_args__ = (
        sa.UniqueConstraint("book_id", "year", "number", name="uq_registration_number"),
        # A form or a client's request registers once, however often it is sent.
        sa.Index("uq_registration_submission", "registered_by", "submission_key", unique=True),
    )

    id: int | None = Field(default=None, primary_key=True)
    book_id: int = Field(foreign_key="protocol_book.id")
    year: int
    number: int
    registered_at: datetime = _timestamp(index=True)
    registered_by: str = Field(max_length=64)
    direction: str = Field(max_length=16)
    subject: str = Field(max_length=1000)
    sender: str | None = Field(default=None, max_length=500)
    recipients: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    sender_reference: str | None = Field(default=None, max_length=100)
    sender_date: date | None = None
    channel: str | None = Field(default=None, max_length=16)
    classification_code: str | None = Field(
        default=None, max_length=64, foreign_key="classification.code"
    )
    confidential: bool = False
    status: str = Field(max_length=16)
    #: The key of the form or request that made the entry (``Idempotency-Key``), if any.
    submission_key: str | None = Field(default=None, max_length=100)


class RelationRow(SQLModel, table=True):
    """A registration refers to an earlier one (reply, follow-up, same case)."""

    __tablename__ = "registration_relation"

    registration_id: int = Field(foreign_key="registration.id", primary_key=True)
    related_id: int = Field(foreign_key="registration.id", primary_key=True, index=True)


class FileRow(SQLModel, table=True):
    """A file of a registration; its bytes live in the blob store under ``storage_key``."""

    __tablename__ = "registration_file"

    id: int | None = Field(default=None, primary_key=True)
    registration_id: int = Field(foreign_key="registration.id", index=True)
    position: int
    role: str = Field(max_length=16)
    filename: str = Field(max_length=255)
    media_type: str = Field(max_length=255)
    size: int = Field(sa_type=sa.BigInteger)
    sha256: str = Field(max_length=64, index=True)
    storage_key: str = Field(max_length=255)
    #: Active content found at intake (JavaScript, launch actions, embedded files...).
    warnings: list[str] = Field(
        default_factory=list, sa_type=sa.JSON, sa_column_kwargs={"server_default": "[]"}
    )
    #: Digital signatures found in the file at intake and how they validated then.
    signatures: list[dict[str, Any]] = Field(
        default_factory=list, sa_type=sa.JSON, sa_column_kwargs={"server_default": "[]"}
    )


class CancellationRow(SQLModel, table=True):
    """Why, on whose authority, by whom and when a registration was cancelled."""

    __tablename__ = "cancellation"

    registration_id: int = Field(foreign_key="registration.id", primary_key=True)
    reason: str = Field(max_length=2000)
    authorisation: str = Field(max_length=500)
    cancelled_by: str = Field(max_length=64)
    cancelled_at: datetime = _timestamp()


class CorrectionRow(SQLModel, table=True):
    """One corrected field of a registration, keeping the old value."""

    __tablename__ = "correction"

    id: int | None = Field(default=None, primary_key=True)
    registration_id: int = Field(foreign_key="registration.id", index=True)
    field: str = Field(max_length=64)
    old_value: Any = Field(default=None, sa_type=sa.JSON)
    new_value: Any = Field(default=None, sa_type=sa.JSON)
    reason: str = Field(max_length=2000)
    corrected_by: str = Field(max_length=64)
    corrected_at: datetime = _timestamp(index=True)


#: The audit events that rename the organisation (a literal: a partial index is used only
#: by queries stating its very condition, which a bound parameter does not).
RENAMED = sa.text("action = 'organisation.renamed'")


class AuditEventRow(SQLModel, table=True):
    """One link of the audit hash chain.

    ``seq`` is assigned by the chain (1, 2, 3...), not by the database, so a
    deleted row shows up as a gap. ``details`` is the canonical JSON text that
    was hashed, stored verbatim.
    """

    __tablename__ = "audit_event"
    # Renames of the organisation, found without reading the whole chain (verification asks
    # which name a document was issued under); partial, so registrations never update it.
    __table_args__ = (
        sa.Index("ix_audit_event_renamed", "seq", sqlite_where=RENAMED, postgresql_where=RENAMED),
    )

    seq: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    occurred_at: datetime = _timestamp(index=True)
    actor: str = Field(max_length=64)
    action: str = Field(max_length=64)
    target: str = Field(max_length=200, index=True)
    details: str = Field(sa_type=sa.Text)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class AuditHeadRow(SQLModel, table=True):
    """The chain's last link; locking this row serialises every audited write."""

    __tablename__ = "audit_head"

    id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    seq: int
    hash: str = Field(max_length=64)


class OutboxRow(SQLModel, table=True):
    """Work for background consumers (index, mail), written in the same transaction."""

    __tablename__ = "outbox_event"

    id: int | None = Field(default=None, primary_key=True)
    topic: str = Field(max_length=64)
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    created_at: datetime = _timestamp()
    processed_at: datetime | None = _timestamp(index=True, nullable=True)
    attempts: int = 0
    last_error: str | None = Field(default=None, sa_type=sa.Text)


class DepartmentRow(SQLModel, table=True):
    """A unit of the organisation (Διεύθυνση, Τμήμα); departments form a tree."""

    __tablename__ = "department"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=DEPARTMENT_CODE_MAX, unique=True)
    name: str = Field(max_length=200)
    parent_id: int | None = Field(default=None, foreign_key="department.id")
    digest_email: str | None = Field(default=None, max_length=254)
    created_at: datetime = _timestamp()
    #: When it was closed (abolished in a reorganisation); its history stays.
    closed_at: datetime | None = _timestamp(nullable=True)


class UserRow(SQLModel, table=True):
    """A member of staff: where they work and what they may do."""

    __tablename__ = "app_user"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64, unique=True)
    full_name: str = Field(max_length=200)
    email: str | None = Field(default=None, max_length=254)
    department_id: int | None = Field(default=None, foreign_key="department.id")
    roles: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    active: bool = True
    created_at: datetime = _timestamp()
    #: Argon2id hash of the password; ``None`` until one is set (no password login).
    password_hash: str | None = Field(default=None, max_length=255)
    #: When the password was last set: logins made before then are no longer valid.
    credentials_changed_at: datetime | None = _timestamp(nullable=True)


class ApiTokenRow(SQLModel, table=True):
    """A long-lived token another application uses to act as a user; only its hash is kept."""

    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    name: str = Field(max_length=100)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = _timestamp()
    expires_at: datetime | None = _timestamp(nullable=True)
    revoked_at: datetime | None = _timestamp(nullable=True)


class AssignmentRow(SQLModel, table=True):
    """A routing (χρέωση) of a registration to a department, and its progress."""

    __tablename__ = "assignment"

    id: int | None = Field(default=None, primary_key=True)
    registration_id: int = Field(foreign_key="registration.id", index=True)
    department_id: int = Field(foreign_key="department.id", index=True)
    assignee: str | None = Field(default=None, max_length=64, index=True)
    purpose: str = Field(max_length=16)
    state: str = Field(max_length=16, index=True)
    due: date | None = None
    note: str | None = Field(default=None, max_length=1000)
    created_by: str = Field(max_length=64)
    created_at: datetime = _timestamp(index=True)
    #: When and by whom it left ``pending``/``accepted`` (accepted, completed, returned, forwarded).
    accepted_by: str | None = Field(default=None, max_length=64)
    accepted_at: datetime | None = _timestamp(nullable=True)
    closed_by: str | None = Field(default=None, max_length=64)
    closed_at: datetime | None = _timestamp(nullable=True)
    return_reason: str | None = Field(default=None, max_length=2000)
    reply_registration_id: int | None = Field(default=None, foreign_key="registration.id")
    forwarded_from_id: int | None = Field(default=None, foreign_key="assignment.id", index=True)


class RoutingRuleRow(SQLModel, table=True):
    """A rule that suggests, or makes, an assignment for registrations it matches."""

    __tablename__ = "routing_rule"

    id: int | None = Field(default=None, primary_key=True)
    priority: int
    name: str = Field(max_length=200)
    sender_contains: str | None = Field(default=None, max_length=200)
    subject_words: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    classification_code: str | None = Field(default=None, max_length=64)
    channel: str | None = Field(default=None, max_length=16)
    department_id: int = Field(foreign_key="department.id")
    purpose: str = Field(max_length=16)
    automatic: bool = False
    created_at: datetime = _timestamp()


class DigestDeliveryRow(SQLModel, table=True):
    """Whether a department's digest for a day has been sent (so it is sent once)."""

    __tablename__ = "digest_delivery"
    __table_args__ = (sa.UniqueConstraint("department_id", "digest_date", name="uq_digest_once"),)

    id: int | None = Field(default=None, primary_key=True)
    department_id: int = Field(foreign_key="department.id")
    digest_date: date
    state: str = Field(max_length=16)
    attempts: int = 0
    message_id: str = Field(max_length=200)
    sent_at: datetime | None = _timestamp(nullable=True)
    last_error: str | None = Field(default=None, sa_type=sa.Text)


class FileTextRow(SQLModel, table=True):
    """Text extracted from stored content for the search index, once per SHA-256.

    Content is immutable, so its text never needs extracting again; a failure is
    recorded with its reason and the files are indexed by their metadata only.
    """

    __tablename__ = "file_text"

    sha256: str = Field(primary_key=True, max_length=64)
    extracted_at: datetime = _timestamp()
    failure: str | None = Field(default=None, max_length=500)
    text: str = Field(sa_type=sa.Text)


class SealRow(SQLModel, table=True):
    """A sealed outgoing document (a certificate or a stamped PDF): its public verification data.

    ``fields`` keeps what a certificate was issued from (the citizen's data); it
    is part of the record and never shown by verification.
    """

    __tablename__ = "seal"

    registration_id: int = Field(primary_key=True, foreign_key="registration.id")
    verification_code: str = Field(max_length=32, unique=True)
    title: str = Field(max_length=1000)
    #: SHA-256 of the signed file as issued.
    sha256: str = Field(max_length=64, index=True)
    template: str | None = Field(default=None, max_length=64)
    fields: dict[str, str] | None = Field(default=None, sa_type=sa.JSON)


class DailyRegisterRow(SQLModel, table=True):
    """The daily register of one day: its JSON and signed PDF, stored as blobs."""

    __tablename__ = "daily_register"

    day: date = Field(primary_key=True)
    created_at: datetime = _timestamp()
    entries: int
    audit_head: str = Field(max_length=64)
    json_sha256: str = Field(max_length=64)
    json_key: str = Field(max_length=255)
    pdf_sha256: str = Field(max_length=64)
    pdf_key: str = Field(max_length=255)


class DisposalDecisionRow(SQLModel, table=True):
    """A decision of the archive committee on a list of what reached the end of retention.

    ``since``/``until`` are the days of the list it decided on; ``groups`` keeps that
    list as it stood (book, year, heading, counts), for the record. Nothing is deleted.
    """

    __tablename__ = "disposal_decision"

    id: int | None = Field(default=None, primary_key=True)
    reference: str = Field(max_length=200)
    decided_on: date
    since: date | None = None
    until: date = Field(index=True)
    groups: list[dict[str, Any]] = Field(default_factory=list, sa_type=sa.JSON)
    recorded_by: str = Field(max_length=64)
    recorded_at: datetime = _timestamp()


#: A database row by column name (Core ``RowMapping``) or a dict of values just written.
Row = Mapping[Any, Any]


def _table(model: type[SQLModel]) -> sa.Table:
    return cast(sa.Table, model.__table__)  # type: ignore[attr-defined]


# Core tables: hot paths (registering, listing, the audit chain) use SQLAlchemy Core
# statements on these rather than ORM objects, which cost several times more per row.
ORGANISATION = _table(OrganisationRow)
BOOK = _table(BookRow)
CLASSIFICATION = _table(ClassificationRow)
COUNTER = _table(CounterRow)
REGISTRATION = _table(RegistrationRow)
RELATION = _table(RelationRow)
FILE = _table(FileRow)
CANCELLATION = _table(CancellationRow)
CORRECTION = _table(CorrectionRow)
AUDIT_EVENT = _table(AuditEventRow)
AUDIT_HEAD = _table(AuditHeadRow)
OUTBOX = _table(OutboxRow)
DEPARTMENT = _table(DepartmentRow)
USER = _table(UserRow)
ASSIGNMENT = _table(AssignmentRow)
DIGEST_DELIVERY = _table(DigestDeliveryRow)
ROUTING_RULE = _table(RoutingRuleRow)
FILE_TEXT = _table(FileTextRow)
API_TOKEN = _table(ApiTokenRow)
SEAL = _table(SealRow)
DAILY_REGISTER = _table(DailyRegisterRow)
DISPOSAL_DECISION = _table(DisposalDecisionRow)
