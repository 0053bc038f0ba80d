"""Routing rules: configured patterns that suggest, or automatically make, assignments.

A rule matches a registration when every condition it sets holds: the sender
contains a text, the subject contains all of some words (both compared without
accents or case, so «ΧΑΝΙΩΝ» matches «Χανίων»; a word also matches its other
forms, so «δέντρο» matches «δέντρων»), the classification or the
channel is a given one. Rules are tried in priority order (lowest first); each
department is suggested once, by the first rule that names it. Automatic rules
create their assignment in the registration's own transaction.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from eprotocol.core import validation
from eprotocol.core.audit import events_about, lock_chain, to_event
from eprotocol.core.database import Database
from eprotocol.core.errors import InvalidInput, NotFound, Phrase
from eprotocol.core.filing_plan import retention_years
from eprotocol.core.greek import WORD, fold, terms
from eprotocol.core.models import DEPARTMENT, ROUTING_RULE
from eprotocol.core.organisation import DepartmentTree, administrator
from eprotocol.core.ports import Clock
from eprotocol.core.types import Channel, Purpose

NO_CONDITION = Phrase("no-condition", "a routing rule needs at least one condition")
NO_RULE = Phrase("no-rule", "there is no routing rule {id}")
#: How long a process trusts its copy of the rules (rules change rarely; this process's own
#: changes are seen at once, another process's within this many seconds).
CACHE_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class SubjectWords:
    """A subject as rules look for words in it: folded, and the stems of its words."""

    folded: str
    stems: frozenset[str]

    @classmethod
    def of(cls, subject: str) -> SubjectWords:
        """Fold and stem ``subject`` (once per registration, whatever the number of rules)."""
        stems = (terms(word) for word in WORD.findall(subject))
        return cls(fold(subject), frozenset(stem for stem in stems if stem is not None))

    def has(self, word: str) -> bool:
        """``word`` is in the subject, as written or in another form of it."""
        return fold(word) in self.folded or terms(word) in self.stems


@dataclass(frozen=True, slots=True)
class RoutingRule:
    """A configured rule; ``None`` or empty conditions are not checked."""

    id: int
    priority: int
    name: str
    sender_contains: str | None
    subject_words: tuple[str, ...]
    classification_code: str | None
    channel: Channel | None
    department: str
    department_id: int
    purpose: Purpose
    automatic: bool

    def matches(self, values: Mapping[str, Any], subject: SubjectWords) -> bool:
        """Whether a registration with these (validated) values meets every condition.

        ``subject`` is ``values["subject"]`` made ready once for all the rules.
        """
        if self.sender_contains and fold(self.sender_contains) not in fold(values["sender"] or ""):
            return False
        if not all(subject.has(word) for word in self.subject_words):
            return False
        if self.classification_code and self.classification_code != values["classification_code"]:
            return False
        return not (self.channel and self.channel.value != values["channel"])


@dataclass(frozen=True, slots=True)
class Suggestion:
    """A department a registration should go to, and why."""

    department: str
    purpose: Purpose
    reason: str
    automatic: bool


def _load(conn: sa.Connection) -> tuple[RoutingRule, ...]:
    rows = conn.execute(
        sa.select(ROUTING_RULE, DEPARTMENT.c.code.label("department"))
        .join(DEPARTMENT, DEPARTMENT.c.id == ROUTING_RULE.c.department_id)
        .order_by(ROUTING_RULE.c.priority, ROUTING_RULE.c.id)
    ).mappings()
    return tuple(
        RoutingRule(
            id=r["id"],
            priority=r["priority"],
            name=r["name"],
            sender_contains=r["sender_contains"],
            subject_words=tuple(r["subject_words"]),
            classification_code=r["classification_code"],
            channel=Channel(r["channel"]) if r["channel"] else None,
            department=r["department"],
            department_id=r["department_id"],
            purpose=Purpose(r["purpose"]),
            automatic=r["automatic"],
        )
        for r in rows
    )


class RoutingRules:
    """The rules of an archive, cached in memory."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock
        self._rules: tuple[RoutingRule, ...] = ()
        self._loaded_at = float("-inf")

    def all(self) -> tuple[RoutingRule, ...]:
        """Every rule, in priority order."""
        if time.monotonic() - self._loaded_at > CACHE_SECONDS:
            with self._db.read() as conn:
                self._rules = _load(conn)
            self._loaded_at = time.monotonic()
        return self._rules

    def names(self, ids: Iterable[int]) -> dict[int, str]:
        """The name of each rule in ``ids`` that ever existed, removed ones from the audit trail."""
        wanted = set(ids)
        found = {rule.id: rule.name for rule in self.all() if rule.id in wanted}
        gone = sorted(wanted - found.keys())
        if gone:
            with self._db.read() as conn:
                rows = events_about(conn, [f"routing_rule:{i}" for i in gone], limit=2 * len(gone))
            for event in map(to_event, rows):
                found[int(event.target.removeprefix("routing_rule:"))] = event.details["name"]
        return found

    def matching(self, values: Mapping[str, Any]) -> list[RoutingRule]:
        """The rules a registration with these validated values meets, one per department."""
        found: dict[str, RoutingRule] = {}
        subject = SubjectWords.of(values["subject"])
        for rule in self.all():
            if rule.department not in found and rule.matches(values, subject):
                found[rule.department] = rule
        return list(found.values())

    def add(
        self,
        name: str,
        *,
        department: str,
        priority: int,
        purpose: Purpose | str,
        automatic: bool,
        sender_contains: str | None,
        subject_words: Iterable[str],
        classification_code: str | None,
        channel: Channel | str | None,
        by: str,
    ) -> RoutingRule:
        """Add a rule (admins only); it needs at least one condition."""
        name = validation.required_text(name, "name", 200)
        kind = validation.choice(purpose, Purpose, "purpose")
        sender = validation.text(sender_contains, "sender_contains", 200, required=False)
        words = [validation.required_text(w, "subject_words", 100) for w in subject_words]
        code = validation.text(
            classification_code,
            "classification_code",
            validation.CLASSIFICATION_MAX,
            required=False,
        )
        via = None if channel is None else validation.choice(channel, Channel, "channel").value
        if not (sender or words or code or via):
            raise InvalidInput(NO_CONDITION(), field="conditions")
        if isinstance(priority, bool) or not isinstance(priority, int):
            raise InvalidInput("priority must be a whole number", field="priority")
        with self._db.write() as conn:
            chain = lock_chain(conn)
            tree = DepartmentTree(conn)
            actor = administrator(conn, by, tree)
            if code is not None:
                retention_years(conn, code)  # a rule on a heading the plan lacks never applies
            values = {
                "priority": priority,
                "name": name,
                "sender_contains": sender,
                "subject_words": words,
                "classification_code": code,
                "channel": via,
                "department_id": tree.open_id_of(department, "department"),
                "purpose": kind.value,
                "automatic": bool(automatic),
            }
            now = self._clock.now()
            rule_id = conn.execute(
                sa.insert(ROUTING_RULE).returning(ROUTING_RULE.c.id),
                {**values, "created_at": now},
            ).scalar_one()
            details = {k: v for k, v in values.items() if k != "department_id"}
            chain.append(
                actor=actor.username,
                action="routing_rule.created",
                target=f"routing_rule:{rule_id}",
                details={**details, "department": department},
                at=now,
            )
        self._loaded_at = float("-inf")
        return next(rule for rule in self.all() if rule.id == rule_id)

    def remove(self, rule_id: int, *, by: str) -> RoutingRule:
        """Remove a rule (admins only); the audit trail keeps what it said.

        Other server processes stop applying it within :data:`CACHE_SECONDS`.
        """
        with self._db.write() as conn:
            chain = lock_chain(conn)
            actor = administrator(conn, by)
            rule = next((r for r in _load(conn) if r.id == rule_id), None)
            if rule is None:
                raise NotFound(NO_RULE(id=rule_id))
            conn.execute(sa.delete(ROUTING_RULE).where(ROUTING_RULE.c.id == rule_id))
            chain.append(
                actor=actor.username,
                action="routing_rule.removed",
                target=f"routing_rule:{rule_id}",
                details={
                    "name": rule.name,
                    "department": rule.department,
                    "subject_words": list(rule.subject_words),
                    "sender_contains": rule.sender_contains,
                    "classification_code": rule.classification_code,
                    "automatic": rule.automatic,
                },
                at=self._clock.now(),
            )
        self._loaded_at = float("-inf")
        return rule
