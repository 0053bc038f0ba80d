"""Greek for the library's refusals that staff meet on the pages.

The library speaks English: it is what the API's ``detail`` and the logs carry.
A page shows a refusal in its own language, so each message a form can
commonly bring back has a pattern here, matched against the whole message; a
message without one is shown as the library wrote it.
"""

from __future__ import annotations

import re
from collections.abc import Callable

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
    "password": "Κωδικός",
    "department": "Τμήμα",
    "assignee": "Υπάλληλος",
    "purpose": "Σκοπός",
    "book": "Βιβλίο",
    "q": "Αναζήτηση",
}

#: What an unacceptable file is, as the intake checks say it (``core/intake.py``).
_KINDS = {
    "an empty file": "είναι κενό",
    "an HTML page": "είναι σελίδα HTML",
    "a ZIP archive": "είναι αρχείο ZIP",
    "a Windows program": "είναι πρόγραμμα Windows",
    "a program": "είναι πρόγραμμα",
}

#: Why the PDF reader refused a file (``intake/pdf_worker.py``, ``intake/pdf.py``).
_PDF_REFUSALS = (
    (r"has no PDF header", "δεν είναι PDF"),
    (r"is truncated \(no end-of-file marker\)", "είναι κομμένο (λείπει το τέλος του)"),
    (r"has data after the end of the PDF .*", "έχει δεδομένα μετά το τέλος του PDF"),
    (r"also contains a ZIP archive .*", "περιέχει και αρχείο ZIP"),
    (r"is encrypted and cannot be opened without a password", "είναι κρυπτογραφημένο"),
    (r"has no pages", "δεν έχει σελίδες"),
    (
        r"(exceeds a safety limit|needs too much memory|crashed the PDF reader).*",
        "δεν ανοίγει με ασφάλεια (πιθανή «βόμβα» συμπίεσης)",
    ),
    (r"has a structure nested too deeply to read", "δεν διαβάζεται (βαθιά εμφωλευμένη δομή)"),
    (r"takes longer than .* to read .*", "αργεί υπερβολικά να διαβαστεί"),
    (r"cannot be read as a PDF .*", "δεν διαβάζεται ως PDF"),
)

#: Each workflow step (``core/routing.py``): what a user may not do, what a routing cannot be.
_STEPS = {
    "accept": ("παραλάβει", "παραληφθεί"),
    "complete": ("ολοκληρώσει", "ολοκληρωθεί"),
    "return": ("επιστρέψει", "επιστραφεί"),
    "forward": ("διαβιβάσει", "διαβιβαστεί"),
}
_STEP = "(?P<step>" + "|".join(_STEPS) + ")"


#: How the library names a field: its code, or a label people read with the code after it.
_NAMED = r"(?P<f>[\w.]+|.+ \([\w.]+\))"
_LABELLED = re.compile(r"(?P<label>.+) \([\w.]+\)")


def _field(named: str) -> str:
    labelled = _LABELLED.fullmatch(named)
    return labelled["label"] if labelled else _FIELDS.get(named, named)


#: What files of the other types the intake names by their media type are.
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


def _kind(what: str) -> str:
    if what.startswith("of type "):
        media_type = what.removeprefix("of type ")
        return next(
            (kind for prefix, kind in _MEDIA if media_type.startswith(prefix)),
            f"είναι τύπου {media_type}",
        )
    return _KINDS.get(what, what)


def _pdf_refusal(why: str) -> str:
    return next((greek for english, greek in _PDF_REFUSALS if re.fullmatch(english, why)), why)


Rule = tuple[str, Callable[[re.Match[str]], str]]

_RULES: tuple[Rule, ...] = (
    # Any text field (core/validation.py)
    (rf"{_NAMED} (is required|must not be empty)", lambda m: f"Συμπληρώστε: {_field(m['f'])}."),
    (
        rf"{_NAMED} is (?P<n>\d+) characters long; at most (?P<max>\d+) are allowed",
        lambda m: f"{_field(m['f'])}: {m['n']} χαρακτήρες· επιτρέπονται έως {m['max']}.",
    ),
    (
        rf"{_NAMED} contains control characters",
        lambda m: f"{_field(m['f'])}: περιέχει χαρακτήρες ελέγχου.",
    ),
    (
        r"(?P<f>[\w.]+) must be one of: .*",
        lambda m: f"{_field(m['f'])}: η τιμή δεν είναι από τις επιτρεπόμενες.",
    ),
    (
        r"(?P<f>[\w.]+) (?P<text>'.*') is not an email address",
        lambda m: f"{_field(m['f'])}: το {m['text']} δεν είναι διεύθυνση email.",
    ),
    (r"at most (?P<n>\d+) recipients are allowed", lambda m: f"Έως {m['n']} παραλήπτες."),
    (r"at most (?P<n>\d+) related registrations", lambda m: f"Έως {m['n']} σχετικά."),
    (
        r"the sender's date is not a date|sender_date must be a date \(YYYY-MM-DD\)",
        lambda m: "Η ημερομηνία εγγράφου αποστολέα δεν είναι ημερομηνία.",
    ),
    (
        r"(?P<text>.+) is not a protocol reference like 123/2026 or general:123/2026",
        lambda m: f"{m['text']}: δεν είναι αριθμός πρωτοκόλλου όπως 123/2026.",
    ),
    (
        r"(?P<code>'.*') is not a heading of the filing plan",
        lambda m: f"Ο κωδικός {m['code']} δεν υπάρχει στο σχέδιο αρχειοθέτησης.",
    ),
    (r"the first day comes after the last", lambda m: "Η πρώτη ημέρα είναι μετά την τελευταία."),
    (r"the search query is empty", lambda m: "Η αναζήτηση είναι κενή."),
    (
        r"the request is larger than the (?P<mb>\d+) MB this server accepts",
        lambda m: f"Τα αρχεία ξεπερνούν τα {m['mb']} MB που δέχεται η υπηρεσία.",
    ),
    (
        r"the search query cannot be read: (?P<why>.+)",
        lambda m: f"Η αναζήτηση δεν διαβάζεται ({m['why']}).",
    ),
    # The protocol book (core/registry.py)
    (
        r"related registration (?P<ref>\S+) does not exist",
        lambda m: f"Σχετικά: δεν υπάρχει η καταχώριση {m['ref']}.",
    ),
    (
        r"(?P<ref>\S+) was registered after this entry: relate it to this one instead",
        lambda m: f"Η {m['ref']} καταχωρίστηκε μετά από αυτή: δηλώστε αυτή στα «Σχετικά» εκείνης.",
    ),
    (
        r"a registration cannot be related to itself",
        lambda m: "Μια καταχώριση δεν είναι σχετική με τον εαυτό της.",
    ),
    (
        r"a registration has at most one main document",
        lambda m: "Μια καταχώριση έχει ένα μόνο κύριο έγγραφο.",
    ),
    (r"the correction changes nothing", lambda m: "Η διόρθωση δεν αλλάζει τίποτα."),
    (
        r"registration (?P<ref>\S+) is already cancelled",
        lambda m: f"Η καταχώριση {m['ref']} έχει ήδη ακυρωθεί.",
    ),
    (
        r"registration (?P<ref>\S+) is cancelled and cannot be corrected",
        lambda m: f"Η καταχώριση {m['ref']} έχει ακυρωθεί και δεν διορθώνεται.",
    ),
    (r"there is no registration (?P<ref>\S+)", lambda m: f"Δεν υπάρχει η καταχώριση {m['ref']}."),
    (
        r"this form \(or Idempotency-Key\) already registered (?P<ref>\S+), with other .*",
        lambda m: (
            f"Αυτή η φόρμα έχει ήδη καταχωριστεί ως {m['ref']}, με άλλο περιεχόμενο· "
            "για νέο έγγραφο ανοίξτε νέα φόρμα."
        ),
    ),
    # Routing (core/routing.py)
    (r"there is no department (?P<code>'.*')", lambda m: f"Δεν υπάρχει τμήμα {m['code']}."),
    (
        r"(?P<who>\S+) may not assign work to (?P<dept>\S+)",
        lambda m: f"Ο χρήστης {m['who']} δεν μπορεί να χρεώσει στο τμήμα {m['dept']}.",
    ),
    (
        r"(?P<who>\S+) does not work in (?P<dept>\S+)",
        lambda m: f"Ο χρήστης {m['who']} δεν ανήκει στο τμήμα {m['dept']}.",
    ),
    (
        rf"(?P<who>\S+) may not {_STEP} assignment (?P<id>\d+) of (?P<dept>\S+)",
        lambda m: (
            f"Ο χρήστης {m['who']} δεν μπορεί να {_STEPS[m['step']][0]} τη χρέωση {m['id']} "
            f"του τμήματος {m['dept']}."
        ),
    ),
    (
        rf"assignment (?P<id>\d+) is (?P<state>\w+); it cannot be {_STEP}e?d",
        lambda m: (
            f"Η χρέωση {m['id']} είναι «{GREEK.get(m['state'], m['state'])}»· "
            f"δεν μπορεί να {_STEPS[m['step']][1]}."
        ),
    ),
    # Files (core/intake.py, intake/)
    (r"every file needs a name", lambda m: "Κάθε αρχείο χρειάζεται όνομα."),
    (
        r"the filename (?P<name>'.*') contains a path",
        lambda m: f"Το όνομα αρχείου {m['name']} περιέχει διαδρομή φακέλων.",
    ),
    (
        r"the filename (?P<name>'.*') contains control characters",
        lambda m: f"Το όνομα αρχείου {m['name']} περιέχει χαρακτήρες ελέγχου.",
    ),
    (
        r"the filename (?P<name>'.*') contains characters that reverse the displayed text",
        lambda m: f"Το όνομα αρχείου {m['name']} περιέχει χαρακτήρες που αντιστρέφουν το κείμενο.",
    ),
    (
        r"the filename is (?P<n>\d+) characters long; at most (?P<max>\d+) are allowed",
        lambda m: f"Το όνομα αρχείου έχει {m['n']} χαρακτήρες· επιτρέπονται έως {m['max']}.",
    ),
    (
        r"(?P<file>.+) is (?P<what>.+), not accepted as (?P<role>main document|attachment) "
        r"\(expected .*\)",
        lambda m: (
            f"Το αρχείο «{m['file']}» δεν γίνεται δεκτό ως "
            f"{'κύριο έγγραφο (PDF)' if m['role'] == 'main document' else 'συνημμένο'}: "
            f"{_kind(m['what'])}."
        ),
    ),
    (
        r"(?P<file>.+) is larger than (?P<mb>[\d.]+) MB",
        lambda m: f"Το αρχείο «{m['file']}» ξεπερνά τα {m['mb']} MB.",
    ),
    (r"(?P<file>.+) is empty", lambda m: f"Το αρχείο «{m['file']}» είναι κενό."),
    (
        rf"(?P<file>.+?) (?P<why>{'|'.join(english for english, _ in _PDF_REFUSALS)})",
        lambda m: f"Το αρχείο «{m['file']}» {_pdf_refusal(m['why'])}.",
    ),
    # Certificates (core/certificates.py): their labels are Greek already
    (
        r"(?P<label>.+): (?P<text>'.*') is not a date \(ΗΗ/ΜΜ/ΕΕΕΕ\)",
        lambda m: f"{m['label']}: το {m['text']} δεν είναι ημερομηνία (ΗΗ/ΜΜ/ΕΕΕΕ).",
    ),
    (
        r"(?P<label>.+): (?P<text>'.*') is not a valid (?P<kind>ΑΦΜ|ΑΜΚΑ)",
        lambda m: f"{m['label']}: το {m['text']} δεν είναι έγκυρος {m['kind']}.",
    ),
    # Administration (core/organisation.py, core/accounts.py, core/rules.py)
    (r"user (?P<name>'.*') already exists", lambda m: f"Υπάρχει ήδη χρήστης {m['name']}."),
    (r"department (?P<code>'.*') already exists", lambda m: f"Υπάρχει ήδη τμήμα {m['code']}."),
    (
        r"a username has lower-case Latin letters, digits, '\.', '-' or '_'",
        lambda m: "Το όνομα χρήστη γράφεται με πεζά λατινικά γράμματα, ψηφία, «.», «-» ή «_».",
    ),
    (
        r"a department code has letters, digits, '\.', '-' or '_'",
        lambda m: "Ο κωδικός τμήματος γράφεται με γράμματα, ψηφία, «.», «-» ή «_».",
    ),
    (
        r"a password has (?P<min>\d+) to (?P<max>\d+) characters",
        lambda m: f"Ο κωδικός πρέπει να έχει από {m['min']} έως {m['max']} χαρακτήρες.",
    ),
    (
        r"heads and staff belong to a department",
        lambda m: "Οι προϊστάμενοι και οι υπάλληλοι ανήκουν σε τμήμα.",
    ),
    (r"a user needs at least one role", lambda m: "Ο χρήστης χρειάζεται τουλάχιστον έναν ρόλο."),
    (
        r"a routing rule needs at least one condition",
        lambda m: "Ο κανόνας χρειάζεται τουλάχιστον μία συνθήκη (λέξεις ή αποστολέα).",
    ),
    (
        r"administrators cannot deactivate themselves; another administrator can",
        lambda m: "Ένας διαχειριστής δεν απενεργοποιεί τον εαυτό του· μπορεί άλλος διαχειριστής.",
    ),
    (
        r"(?P<who>\S+) is the last active administrator; .*",
        lambda m: (
            f"Ο χρήστης {m['who']} είναι ο τελευταίος ενεργός διαχειριστής· "
            "ορίστε πρώτα άλλον διαχειριστή."
        ),
    ),
    (
        r"(?P<parent>\S+) is (?P<code>\S+) or below it; a department cannot be placed there",
        lambda m: (
            f"Το τμήμα {m['code']} δεν μπορεί να υπαχθεί στο {m['parent']}, "
            "που είναι το ίδιο ή κάτω από αυτό."
        ),
    ),
)

_COMPILED = tuple((re.compile(pattern), say) for pattern, say in _RULES)


def in_page_language(message: str, lang: str, *, default_book: str | None = None) -> str:
    """A refusal of the library as a page in ``lang`` shows it (Greek unless ``en``).

    In Greek, references to ``default_book`` read as the pages print them (12/2026,
    not general:12/2026).
    """
    if lang == "en":
        return message
    for pattern, say in _COMPILED:
        match = pattern.fullmatch(message)
        if match is not None:
            greek = say(match)
            if default_book is None:
                return greek
            return re.sub(rf"\b{re.escape(default_book)}:(?=\d+/\d{{4}}\b)", "", greek)
    return message
