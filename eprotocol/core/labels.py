"""The Greek names of the domain's codes, as registers, digests and pages print them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from eprotocol.core.types import (
    AssignmentState,
    Channel,
    Direction,
    Disposal,
    ProtocolRef,
    Purpose,
    Role,
    Status,
)

#: Greek name of every direction, channel, purpose, assignment state, role, status and disposal.
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
    AssignmentState.WITHDRAWN: "έληξε με την ακύρωση",
    Role.ADMIN: "διαχειριστής",
    Role.CLERK: "γραφείο πρωτοκόλλου",
    Role.HEAD: "προϊστάμενος",
    Role.STAFF: "υπάλληλος",
    Role.AUDITOR: "ελεγκτής",
    Role.ISSUER: "έκδοση βεβαιώσεων",
    Status.ACTIVE: "ενεργό",
    Status.CANCELLED: "ακυρωμένο",
    Disposal.DESTROY: "καταστροφή",
    Disposal.TRANSFER: "παράδοση στα ΓΑΚ",
    Disposal.REVIEW: "επανεξέταση",
}

#: What printed lists and emails show for the subject of a confidential entry.
CONFIDENTIAL = "[εμπιστευτικό]"

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


def _greek(text: str) -> str:
    return GREEK.get(text, text)


def printed_value(
    field: str, value: object, book: str, *, label: Callable[[str], str] = _greek
) -> str:
    """A stored value of a registration's ``field`` as registers and pages print it.

    ``—`` for nothing, «ναι»/«όχι», the names of codes, dates as 27/02/2026,
    lists joined with commas, references beside entries of ``book``. ``label``
    names a code or says a Greek word in the reader's language (Greek by default).
    """
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return label("ναι" if value else "όχι")
    if field in ("direction", "channel"):
        return label(str(value))
    if field == "sender_date":
        return date.fromisoformat(str(value)).strftime("%d/%m/%Y")
    if isinstance(value, list):
        if field == "related":
            return ", ".join(ProtocolRef.parse(str(v)).printed_in(book) for v in value)
        return ", ".join(str(v) for v in value)
    return str(value)
