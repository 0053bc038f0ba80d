"""Greek for the library's refusals that staff meet on the pages.

The library speaks English: it is what the API's ``detail`` and the logs carry.
Each refusal it words with a :class:`~eprotocol.core.errors.Phrase` keeps its kind and
values (a :class:`~eprotocol.core.errors.Text`), and :data:`IN_GREEK` says every such
kind in Greek (a test keeps the two complete); any other message is shown as the
library wrote it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from eprotocol.core.errors import Text
from eprotocol.core.labels import FIELD_LABELS, GREEK

#: Greek names of the form fields the library names in its messages.
_FIELDS = {
    **FIELD_LABELS,
    "reason": "Αιτιολογία",
    "authorisation": "Απόφαση/εντολή",
    "note": "Σημείωση",
    "due": "Προθεσμία",
    "name": "Όνομα",
    "full_name": "Ονοματεπώνυμο",
    "username": "Όνομα χρήστη",
    "email": "Email",
    "digest_email": "Email ημερήσιας σύνοψης",
    "code": "Κωδικός",
    "files": "Αρχεία",
    "password": "Κωδικός πρόσβασης",
    "department": "Τμήμα",
    "assignee": "Υπάλληλος",
    "purpose": "Σκοπός",
    "book": "Βιβλίο",
    "q": "Αναζήτηση",
    "title": "Τίτλος",
    "retention_years": "Διατήρηση (έτη)",
    "disposal": "Μετά τη διατήρηση",
    "file": "Αρχείο",
}

#: What files of a type not accepted are, by media type (``core/intake.py``).
_KINDS = {
    "application/x-empty": "είναι κενό",
    "text/html": "είναι σελίδα HTML",
    "application/zip": "είναι αρχείο ZIP",
    "application/x-dosexec": "είναι πρόγραμμα Windows",
    "application/x-executable": "είναι πρόγραμμα",
}
#: ...and of the other types, by the start of their media type.
_MEDIA = (
    ("image/", "είναι εικόνα"),
    ("application/msword", "είναι έγγραφο Word"),
    ("application/vnd.openxmlformats-officedocument.wordprocessingml", "είναι έγγραφο Word"),
    ("application/vnd.oasis.opendocument.text", "είναι έγγραφο ODT"),
    ("application/vnd.ms-excel", "είναι υπολογιστικό φύλλο"),
    ("application/vnd.openxmlformats-officedocument.spreadsheetml", "είναι υπολογιστικό φύλλο"),
    ("application/vnd.oasis.opendocument.spreadsheet", "είναι υπολογιστικό φύλλο"),
    ("text/plain", "είναι απλό κείμενο"),
)

#: Each workflow step (``core/routing.py``): what a user may not do, what a routing cannot be.
_STEPS = {
    "accept": ("παραλάβει", "παραληφθεί"),
    "complete": ("ολοκληρώσει", "ολοκληρωθεί"),
    "return": ("επιστρέψει", "επιστραφεί"),
    "forward": ("διαβιβάσει", "διαβιβαστεί"),
}

#: What each action of ``core/permissions.py`` lets a user do, after «δεν μπορεί να».
_DOING = {
    "register": "πρωτοκολλήσει έγγραφα",
    "read": "δει το βιβλίο πρωτοκόλλου",
    "read_confidential": "δει εμπιστευτικές καταχωρίσεις",
    "cancel": "ακυρώσει καταχωρίσεις",
    "correct": "διορθώσει καταχωρίσεις",
    "assign": "χρεώσει έγγραφα",
    "forward": "διαβιβάσει χρεώσεις",
    "work": "χειριστεί χρεώσεις",
    "manage": (
        "διαχειριστεί υπηρεσίες, χρήστες, κανόνες χρέωσης, το σχέδιο αρχειοθέτησης "
        "και τις μεταφορές βιβλίων"
    ),
    "read_audit": "δει το ημερολόγιο ελέγχου",
    "issue_certificate": "εκδώσει βεβαιώσεις",
    "read_daily_register": "δει τα ημερήσια βιβλία πρωτοκόλλου",
}

Values = Mapping[str, Any]


def _field(v: Values) -> str:
    """The field a refusal names: its own label, or the Greek name of its code."""
    return str(v.get("label") or _FIELDS.get(v["field"], v["field"]))


def _kind(media_type: str) -> str:
    if media_type in _KINDS:
        return _KINDS[media_type]
    return next(
        (kind for prefix, kind in _MEDIA if media_type.startswith(prefix)),
        f"είναι τύπου {media_type}",
    )


_SENDER_DATE = "Η ημερομηνία εγγράφου αποστολέα δεν είναι ημερομηνία."
_UNSAFE = "δεν ανοίγει με ασφάλεια (πιθανή «βόμβα» συμπίεσης)"

#: Every :class:`~eprotocol.core.errors.Phrase` of the library in Greek, by kind.
IN_GREEK: dict[str, Callable[[Values], str]] = {
    # Any text field (core/validation.py)
    "required": lambda v: f"Συμπληρώστε: {_field(v)}.",
    "empty": lambda v: f"Συμπληρώστε: {_field(v)}.",
    "too-long": lambda v: f"{_field(v)}: {v['length']} χαρακτήρες· επιτρέπονται έως {v['max']}.",
    "control-characters": lambda v: f"{_field(v)}: περιέχει χαρακτήρες ελέγχου.",
    "not-one-of": lambda v: f"{_field(v)}: η τιμή δεν είναι από τις επιτρεπόμενες.",
    "not-an-email": lambda v: f"{_field(v)}: το {v['text']!r} δεν είναι διεύθυνση email.",
    "too-many-recipients": lambda v: f"Έως {v['max']} παραλήπτες.",
    "too-many-related": lambda v: f"Έως {v['max']} σχετικά.",
    "sender-date": lambda v: _SENDER_DATE,
    "sender-date-typed": lambda v: _SENDER_DATE,
    "due-date-typed": lambda v: "Η προθεσμία δεν είναι ημερομηνία.",
    # requests to the pages that their forms do not send (api/web/pages.py, admin.py)
    "no-such-file": lambda v: f"Η καταχώριση {v['ref']} δεν έχει αρχείο {v['file_id']}.",
    "no-page-images": lambda v: "Εικόνες σελίδων έχουν μόνο τα αρχεία PDF.",
    "not-corrected-here": lambda v: (
        "Εδώ διορθώνονται μόνο το θέμα, ο αποστολέας, τα σχετικά και το θέμα αρχειοθέτησης."
    ),
    "no-such-change": lambda v: f"Μια καταχώριση δεν αλλάζει με {v['change']!r}.",
    "no-such-step": lambda v: f"Δεν υπάρχει βήμα {v['step']!r}.",
    "choose-template": lambda v: "Επιλέξτε πρότυπο βεβαίωσης.",
    "no-such-admin-step": lambda v: f"Η σελίδα δεν έχει ενέργεια {v['step']!r}.",
    "not-a-reference": lambda v: f"{v['text']!r}: δεν είναι αριθμός πρωτοκόλλου όπως 123/2026.",
    "book-code": lambda v: (
        f"{v['code']!r}: ο κωδικός βιβλίου γράφεται με πεζά λατινικά γράμματα, ψηφία, «-» ή «_» "
        f"(έως {v['max']})."
    ),
    "book-exists": lambda v: f"Υπάρχει ήδη βιβλίο πρωτοκόλλου {v['code']!r}.",
    "not-a-heading": lambda v: f"Ο κωδικός {v['code']!r} δεν υπάρχει στο σχέδιο αρχειοθέτησης.",
    "backwards-period": lambda v: "Η πρώτη ημέρα είναι μετά την τελευταία.",
    "not-a-day": lambda v: f"Το πεδίο {v['field']} δεν είναι ημερομηνία.",
    "already-decided": lambda v: (
        f"Η απόφαση «{v['reference']}» της επιτροπής καλύπτει έως τις {v['until']:%d/%m/%Y}: "
        f"ο νέος κατάλογος αρχίζει στις {v['next']:%d/%m/%Y}."
    ),
    "decision-skips-days": lambda v: (
        f"Η απόφαση «{v['reference']}» της επιτροπής καλύπτει έως τις {v['until']:%d/%m/%Y}: "
        f"ο νέος κατάλογος αρχίζει στις {v['next']:%d/%m/%Y}, αλλιώς όσα έληξαν ενδιάμεσα "
        "δεν θα κριθούν ποτέ."
    ),
    "nothing-to-decide": lambda v: (
        "Στο διάστημα αυτό καμία καταχώριση δεν έφτασε στο τέλος της διατήρησής της."
    ),
    "decided-in-the-future": lambda v: (
        f"Η ημερομηνία της απόφασης ({v['day']:%d/%m/%Y}) δεν έχει έρθει ακόμη."
    ),
    "empty-query": lambda v: "Η αναζήτηση είναι κενή.",
    "unreadable-query": lambda v: f"Η αναζήτηση δεν διαβάζεται ({v['why']}).",
    "request-too-large": lambda v: f"Τα αρχεία ξεπερνούν τα {v['mb']} MB που δέχεται η υπηρεσία.",
    "verify-too-large": lambda v: f"Το αρχείο ξεπερνά τα {v['mb']} MB.",
    # The protocol book (core/registry.py, core/queries.py)
    "no-related": lambda v: f"Σχετικά: δεν υπάρχει η καταχώριση {v['ref']}.",
    "related-later": lambda v: (
        f"Η {v['ref']} καταχωρίστηκε μετά από αυτή: δηλώστε αυτή στα «Σχετικά» εκείνης."
    ),
    "self-related": lambda v: "Μια καταχώριση δεν είναι σχετική με τον εαυτό της.",
    "one-main-document": lambda v: "Μια καταχώριση έχει ένα μόνο κύριο έγγραφο.",
    "no-change": lambda v: "Η διόρθωση δεν αλλάζει τίποτα.",
    "already-cancelled": lambda v: f"Η καταχώριση {v['ref']} έχει ήδη ακυρωθεί.",
    "cancelled-not-correctable": lambda v: (
        f"Η καταχώριση {v['ref']} έχει ακυρωθεί και δεν διορθώνεται."
    ),
    "no-registration": lambda v: f"Δεν υπάρχει η καταχώριση {v['ref']}.",
    "form-reused": lambda v: (
        f"Αυτή η φόρμα έχει ήδη καταχωριστεί ως {v['number']}, με άλλο περιεχόμενο· "
        "για νέο έγγραφο ανοίξτε νέα φόρμα."
    ),
    # Permissions (core/permissions.py, core/accounts.py, api/routes.py)
    "may-not": lambda v: f"Ο χρήστης {v['who']} δεν μπορεί να {_DOING[v['action']]}.",
    "may-not-read-registration": lambda v: (
        f"Ο χρήστης {v['who']} δεν μπορεί να δει την καταχώριση {v['ref']}."
    ),
    "may-not-read-work": lambda v: (
        f"Ο χρήστης {v['who']} δεν μπορεί να δει τις χρεώσεις του τμήματος {v['department']}."
    ),
    "no-token": lambda v: f"Δεν υπάρχει το κλειδί API {v['id']}.",
    "may-not-credentials": lambda v: (
        f"Ο χρήστης {v['who']} δεν μπορεί να αλλάξει τα στοιχεία σύνδεσης του χρήστη "
        f"{v['username']}."
    ),
    # Routing (core/routing.py)
    "no-department": lambda v: f"Δεν υπάρχει τμήμα {v['code']!r}.",
    "may-not-assign": lambda v: (
        f"Ο χρήστης {v['who']} δεν μπορεί να χρεώσει στο τμήμα {v['department']}."
    ),
    "not-in-department": lambda v: f"Ο χρήστης {v['who']} δεν ανήκει στο τμήμα {v['department']}.",
    "may-not-step": lambda v: (
        f"Ο χρήστης {v['who']} δεν μπορεί να {_STEPS[v['step']][0]} τη χρέωση {v['id']} "
        f"του τμήματος {v['department']}."
    ),
    "no-assignment": lambda v: f"Δεν υπάρχει η χρέωση {v['id']}.",
    "assign-cancelled": lambda v: f"Η καταχώριση {v['ref']} έχει ακυρωθεί και δεν χρεώνεται.",
    "no-reply": lambda v: f"Δεν υπάρχει η καταχώριση {v['ref']} που δόθηκε ως απάντηση.",
    "no-rule": lambda v: f"Δεν υπάρχει ο κανόνας χρέωσης {v['id']}.",
    "not-from-state": lambda v: (
        f"Η χρέωση {v['id']} είναι «{GREEK.get(v['state'], v['state'])}»· "
        f"δεν μπορεί να {_STEPS[v['step']][1]}."
    ),
    # Files (core/intake.py, intake/)
    "file-without-name": lambda v: "Κάθε αρχείο χρειάζεται όνομα.",
    "filename-path": lambda v: f"Το όνομα αρχείου {v['name']!r} περιέχει διαδρομή φακέλων.",
    "filename-control-characters": lambda v: (
        f"Το όνομα αρχείου {v['name']!r} περιέχει χαρακτήρες ελέγχου."
    ),
    "filename-reversing": lambda v: (
        f"Το όνομα αρχείου {v['name']!r} περιέχει χαρακτήρες που αντιστρέφουν το κείμενο."
    ),
    "filename-too-long": lambda v: (
        f"Το όνομα αρχείου έχει {v['length']} χαρακτήρες· επιτρέπονται έως {v['max']}."
    ),
    "file-type": lambda v: (
        f"Το αρχείο «{v['file']}» δεν γίνεται δεκτό ως "
        f"{'κύριο έγγραφο (PDF)' if v['main'] else 'συνημμένο'}: {_kind(v['media_type'])}."
    ),
    "file-too-large": lambda v: f"Το αρχείο «{v['file']}» ξεπερνά τα {v['mb']:g} MB.",
    "empty-file": lambda v: f"Το αρχείο «{v['file']}» είναι κενό.",
    "pdf-refused": lambda v: f"Το αρχείο «{v['file']}» {_say(v['why'])}.",
    # ...why, as the end of that sentence (intake/pdf_worker.py, intake/pdf.py)
    "pdf-no-header": lambda v: "δεν είναι PDF",
    "pdf-truncated": lambda v: "είναι κομμένο (λείπει το τέλος του)",
    "pdf-after-end": lambda v: "έχει δεδομένα μετά το τέλος του PDF",
    "pdf-polyglot": lambda v: "περιέχει και αρχείο ZIP",
    "pdf-encrypted": lambda v: "είναι κρυπτογραφημένο",
    "pdf-no-pages": lambda v: "δεν έχει σελίδες",
    "pdf-limit": lambda v: _UNSAFE,
    "pdf-memory": lambda v: _UNSAFE,
    "pdf-crash": lambda v: _UNSAFE,
    "pdf-nested": lambda v: "δεν διαβάζεται (βαθιά εμφωλευμένη δομή)",
    "pdf-slow": lambda v: "αργεί υπερβολικά να διαβαστεί",
    "pdf-unreadable": lambda v: "δεν διαβάζεται ως PDF",
    "pdf-not-opened": lambda v: "δεν άνοιξε για έλεγχο· δοκιμάστε ξανά",
    # Certificates (core/certificates.py): their labels are Greek already
    "not-a-valid-number": lambda v: (
        f"{v['label']}: το {v['text']!r} δεν είναι έγκυρος {v['kind']}."
    ),
    "not-a-printed-date": lambda v: (
        f"{v['label']}: το {v['text']!r} δεν είναι ημερομηνία (ΗΗ/ΜΜ/ΕΕΕΕ)."
    ),
    "signing-certificate-expired": lambda v: (
        f"Το πιστοποιητικό υπογραφής ({v['name']}) έληξε στις {v['until']:%d/%m/%Y %H:%M}· "
        "έγγραφα υπογράφονται ξανά μόλις εγκατασταθεί το ανανεωμένο."
    ),
    "timestamp-server-down": lambda v: (
        f"Η υπηρεσία χρονοσήμανσης ({v['url']}) δεν απαντά· έγγραφα υπογράφονται ξανά μόλις "
        f"απαντήσει (νέα δοκιμή σε {v['seconds']} δευτερόλεπτα). Οι άλλες πρωτοκολλήσεις "
        "συνεχίζονται κανονικά."
    ),
    # Administration (core/organisation.py, core/accounts.py, core/rules.py)
    "user-exists": lambda v: f"Υπάρχει ήδη χρήστης {v['username']!r}.",
    "department-exists": lambda v: f"Υπάρχει ήδη τμήμα {v['code']!r}.",
    "username": lambda v: (
        "Το όνομα χρήστη γράφεται με πεζά λατινικά γράμματα, ψηφία, «.», «-» ή «_»."
    ),
    "department-code": lambda v: "Ο κωδικός τμήματος γράφεται με γράμματα, ψηφία, «.», «-» ή «_».",
    "password-length": lambda v: (
        f"Ο κωδικός πρέπει να έχει από {v['min']} έως {v['max']} χαρακτήρες."
    ),
    "unplaced": lambda v: "Οι προϊστάμενοι και οι υπάλληλοι ανήκουν σε τμήμα.",
    "no-role": lambda v: "Ο χρήστης χρειάζεται τουλάχιστον έναν ρόλο.",
    "no-condition": lambda v: "Ο κανόνας χρειάζεται τουλάχιστον μία συνθήκη (λέξεις ή αποστολέα).",
    "self-deactivation": lambda v: (
        "Ένας διαχειριστής δεν απενεργοποιεί τον εαυτό του· μπορεί άλλος διαχειριστής."
    ),
    "last-administrator": lambda v: (
        f"Ο χρήστης {v['username']} είναι ο τελευταίος ενεργός διαχειριστής· "
        "ορίστε πρώτα άλλον διαχειριστή."
    ),
    "no-user": lambda v: f"Δεν υπάρχει ο χρήστης {v['username']!r}.",
    "department-look-alike": lambda v: (
        f"Ο κωδικός {v['code']!r} μοιάζει με τον κωδικό του τμήματος {v['other']!r}· "
        "οι κωδικοί δεν επιτρέπεται να διαφέρουν μόνο σε πεζά-κεφαλαία ή σε ελληνικά και "
        "λατινικά γράμματα που μοιάζουν."
    ),
    # The throttles (api/auth.py)
    "too-many-logins": lambda v: (
        f"Πολλές αποτυχημένες συνδέσεις· δοκιμάστε ξανά σε {v['wait']} δευτερόλεπτα."
    ),
    "too-many-checks": lambda v: (
        f"Πάρα πολλοί έλεγχοι αρχείων από αυτή τη διεύθυνση· δοκιμάστε ξανά σε {v['wait']} "
        "δευτερόλεπτα."
    ),
    # The filing plan (core/filing_plan.py)
    "heading-exists": lambda v: (
        f"Το σχέδιο αρχειοθέτησης έχει ήδη τη θέση {v['code']!r} («{v['title']}», "
        f"{v['years']} έτη, {GREEK.get(v['disposal'], v['disposal'])})· "
        "η διατήρηση μιας θέσης δεν αλλάζει (ο τίτλος της διορθώνεται)."
    ),
    "heading-twice": lambda v: f"Η θέση {v['code']!r} δίνεται δύο φορές, με άλλα στοιχεία.",
    "retention-years": lambda v: f"Διατήρηση (έτη): ακέραιος αριθμός από 1 έως {v['max']}.",
    "plan-encoding": lambda v: (
        "Το αρχείο δεν είναι κείμενο UTF-8· αποθηκεύστε το υπολογιστικό φύλλο ως «CSV UTF-8»."
    ),
    "plan-columns": lambda v: (
        "Η πρώτη γραμμή ονομάζει τις στήλες code, title, retention_years και, αν θέλετε, "
        f"disposal (βρέθηκαν: {v['found']})."
    ),
    "plan-empty": lambda v: "Το αρχείο δεν έχει καμία θέση.",
    "plan-extra-values": lambda v: "Περισσότερες τιμές από όσες στήλες ονομάζει η πρώτη γραμμή.",
    "plan-line": lambda v: f"Γραμμή {v['line']}: {in_page_language(v['problem'], 'el')}",
    "placed-below-itself": lambda v: (
        f"Το τμήμα {v['code']} δεν μπορεί να υπαχθεί στο {v['parent']}, "
        "που είναι το ίδιο ή κάτω από αυτό."
    ),
    "department-closed": lambda v: f"Το τμήμα {v['code']} έχει καταργηθεί.",
    "closing-with-open-work": lambda v: (
        f"Το τμήμα {v['code']} έχει ακόμη {v['count']} ανοιχτές χρεώσεις: "
        "διαβιβάστε τις πρώτα σε άλλο τμήμα."
    ),
    "closing-with-staff": lambda v: (
        f"Στο τμήμα {v['code']} ανήκουν ακόμη {v['count']} ενεργοί χρήστες: μετακινήστε τους πρώτα."
    ),
    "closing-with-departments-below": lambda v: (
        f"Κάτω από το τμήμα {v['code']} υπάρχουν ενεργά τμήματα ({v['below']}): "
        "καταργήστε ή μετακινήστε τα πρώτα."
    ),
    "closing-with-rules": lambda v: (
        f"Κανόνες χρέωσης στέλνουν ακόμη έγγραφα στο τμήμα {v['code']}: αφαιρέστε τους πρώτα."
    ),
    "reopening-below-closed": lambda v: (
        f"Το τμήμα {v['code']} υπάγεται στο {v['parent']}, που έχει καταργηθεί: "
        "επαναφέρετε πρώτα εκείνο."
    ),
}


def _say(text: Text) -> str:
    return IN_GREEK[text.kind](text.values)


def in_page_language(message: str, lang: str, *, default_book: str | None = None) -> str:
    """A refusal of the library as a page in ``lang`` shows it (Greek unless ``en``).

    In Greek, references to ``default_book`` read as the pages print them (12/2026,
    not general:12/2026).
    """
    if lang == "en" or not isinstance(message, Text) or message.kind not in IN_GREEK:
        return message
    greek = _say(message)
    if default_book is None:
        return greek
    return re.sub(rf"\b{re.escape(default_book)}:(?=\d+/\d{{4}}\b)", "", greek)
