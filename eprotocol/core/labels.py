"""The Greek names of the domain's codes, as registers, digests and pages print them."""

from __future__ import annotations

from datetime import date

from eprotocol.core.types import (
    AssignmentState,
    Channel,
    Direction,
    ProtocolRef,
    Purpose,
    Role,
    Status,
)

#: Greek name of every direction, channel, purpose, assignment state, role and status.
#: (``Channel.INTERNAL`` is the string ``internal`` too, and reads as the direction does.)
GREEK: dict[str, str] = {
    Direction.INCOMING: "Εισερχόμενο",
    Direction.OUTGOING: "Εξερχόμενο",
    Direction.INTERNAL: "Εσωτερικό",
    Channel.COUNTER: "Γκισέ",
    Channel.EMAIL: "Email",
    Channel.POST: "Ταχυδρομείο",
    Channel.COURIER: "Courier",
    Channel.FAX: "Fax",
    Channel.PORTAL: "Διαδικτυακή πύλη",
    Purpose.ACTION: "προς ενέργεια",
    Purpose.INFORMATION: "κοινοποίηση",
    AssignmentState.PENDING: "εκκρεμεί",
    AssignmentState.ACCEPTED: "σε εξέλιξη",
    AssignmentState.COMPLETED: "ολοκληρώθηκε",
    AssignmentState.RETURNED: "επιστράφηκε",
    AssignmentState.FORWARDED: "διαβιβάστηκε",
    Role.ADMIN: "διαχειριστής",
    Role.CLERK: "γραφείο πρωτοκόλλου",
    Role.HEAD: "προϊστάμενος",
    Role.STAFF: "υπάλληλος",
    Role.AUDITOR: "ελεγκτής",
    Role.ISSUER: "έκδοση βεβαιώσεων",
    Status.ACTIVE: "ενεργό",
    Status.CANCELLED: "ακυρωμένο",
}

#: Greek names of the fields of a registration that a correction can name.
FIELD_LABELS: dict[str, str] = {
    "direction": "Είδος",
    "subject": "Θέμα",
    "sender": "Αποστολέας",
    "recipients": "Παραλήπτες",
    "sender_reference": "Αρ. πρωτ. αποστολέα",
    "sender_date": "Ημερομηνία εγγράφου αποστολέα",
    "channel": "Τρόπος παραλαβής/αποστολής",
    "classification_code": "Κωδικός αρχειοθέτησης",
    "confidential": "Εμπιστευτικό",
    "related": "Σχετικά",
}


def printed_value(field: str, value: object, book: str) -> str:
    """A stored value of a registration's ``field`` as Greek registers print it.

    ``—`` for nothing, «ναι»/«όχι», Greek names of codes, dates as 27/02/2026,
    lists joined with commas, references beside entries of ``book``.
    """
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return "ναι" if value else "όχι"
    if field in ("direction", "channel"):
        return GREEK.get(str(value), str(value))
    if field == "sender_date":
        return date.fromisoformat(str(value)).strftime("%d/%m/%Y")
    if isinstance(value, list):
        if field == "related":
            return ", ".join(ProtocolRef.parse(str(v)).printed_in(book) for v in value)
        return ", ".join(str(v) for v in value)
    return str(value)
