"""Templates and chart geometry of the pages, rendered without a server."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from litestar.datastructures import FormMultiDict

from eprotocol.api.web import charts
from eprotocol.api.web.i18n import ENGLISH, GREEK_LABELS
from eprotocol.api.web.pages import DUE_DATE
from eprotocol.api.web.rendering import form_day, template_engine
from eprotocol.core.certificates import load_templates
from eprotocol.core.disposal import DisposalDecision, DisposalGroup
from eprotocol.core.errors import InvalidInput
from eprotocol.core.routing import InboxEntry, WorkList
from eprotocol.core.search import SearchResult
from eprotocol.core.types import (
    OPEN_STATES,
    Assignment,
    AssignmentState,
    Cancellation,
    Classification,
    Correction,
    Direction,
    Disposal,
    FileRole,
    ProtocolRef,
    Purpose,
    Registration,
    Role,
    SignatureCheck,
    SigningIdentity,
    Status,
    StoredFile,
    User,
)
from eprotocol.core.validation import CORRECTABLE_FIELDS

TODAY = date(2026, 5, 20)
CLERK = User("maria", "Μαρία", None, "TECH", frozenset({Role.STAFF}), True)


def _entry(number: int, due: date | None, subject: str) -> InboxEntry:
    assignment = Assignment(
        id=number,
        registration=ProtocolRef("general", 2026, number),
        department="TECH",
        assignee=None,
        purpose=Purpose.ACTION,
        state=AssignmentState.PENDING,
        due=due,
        note=None,
        created_by="admin",
        created_at=datetime(2026, 5, 1, tzinfo=UTC),
        accepted_by=None,
        accepted_at=None,
        closed_by=None,
        closed_at=None,
        return_reason=None,
        reply=None,
        forwarded_from=None,
    )
    return InboxEntry(assignment, subject)


def _render(name: str, **context: object) -> str:
    base = {
        "lang": "el",
        "user": CLERK,
        "path": "/",
        "language_links": {"el": "/?lang=el", "en": "/?lang=en"},
        "organisation": "Δήμος Χανίων",
        "tz": ZoneInfo("Europe/Athens"),
        "csrf_input": '<input type="hidden" name="_csrf_token" value="t">',
        "signing_alert": None,
    }
    return template_engine().get_template(name).render(**(base | context))


def _inbox(**context: object) -> str:
    """The inbox page with nothing in it but what ``context`` gives."""
    nothing = WorkList((), 0)
    page: dict[str, object] = {
        "today": TODAY,
        "mine": nothing,
        "department": nothing,
        "page_size": 100,
        "recent": (),
        "away": frozenset(),
        "workable": frozenset(),
        "returned": nothing,
        "ended": (),
    }
    return _render("inbox.html", **(page | context))


def test_overdue_work_is_marked_and_subjects_are_text() -> None:
    late = _entry(7, date(2026, 5, 10), "<script>alert(1)</script> κλάδεμα")
    on_time = _entry(8, date(2026, 6, 30), "Αίτηση")
    html = _inbox(department=WorkList((late, on_time), 2))
    rows = html.split("<tr class=")[1:]
    assert rows[0].startswith('"overdue"') and "εκπρόθεσμη" in rows[0]
    assert rows[1].startswith('""') and "εκπρόθεσμη" not in rows[1]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert" not in html
    assert 'class="pager"' not in html  # all on one page


def test_a_long_list_of_work_is_paged_keeping_where_the_other_stands() -> None:
    entries = (_entry(7, None, "Αίτηση"), _entry(8, None, "Αίτηση"))
    html = _inbox(
        mine=WorkList(entries, 102, offset=100), department=WorkList(entries, 2_500, offset=200)
    )
    mine, department = html.split('<nav class="pager"')[1:]
    assert "101–102 / 102" in mine and 'rel="next"' not in mine
    assert 'href="/?mine_offset=0&amp;department_offset=200" rel="prev"' in mine
    assert "201–202 / 2.500" in department
    assert 'href="/?mine_offset=100&amp;department_offset=100" rel="prev"' in department
    assert 'href="/?mine_offset=100&amp;department_offset=300" rel="next"' in department
    assert '<span class="count">2.500</span>' in html  # the total, not the page
    returned = _inbox(returned=WorkList(entries, 350))
    assert '<span class="count">350</span>' in returned
    assert "Εμφανίζονται οι πιο πρόσφατες 2." in returned
    beyond = _inbox(department=WorkList((), 2_500, offset=99_900))
    assert '<a href="/?mine_offset=0&amp;department_offset=0">Στην αρχή της λίστας</a>' in beyond
    assert "Το τμήμα δεν έχει ανοιχτές χρεώσεις" not in beyond


def test_open_work_of_someone_who_left_is_marked_for_their_head() -> None:
    left = _entry(9, None, "Αίτηση")
    left = InboxEntry(dataclasses.replace(left.assignment, assignee="eleni.p"), left.subject)
    stays = InboxEntry(dataclasses.replace(left.assignment, id=10, assignee="maria"), "Άλλη")
    html = _inbox(department=WorkList((left, stays), 2), away={"eleni.p"})
    rows = html.split("<tr class=")[1:]
    assert 'eleni.p <span class="badge">απενεργοποιημένος</span>' in rows[0]
    assert "απενεργοποιημένος" not in rows[1]


def test_english_pages_translate_texts_and_codes() -> None:
    html = _inbox(lang="en", mine=WorkList((_entry(7, None, "Αίτηση"),), 1))
    assert "Assigned to me" in html and "Χρεωμένα σε εμένα" not in html
    assert '<th scope="col">Assigned to</th>' in html  # the column, not the button's "Route"


def test_an_expired_signing_certificate_is_an_alert_on_the_administrators_pages() -> None:
    until = datetime(2027, 1, 31, 22, 0, tzinfo=UTC)
    expired = SigningIdentity("Δήμος Χανίων", until, days_left=-2)
    html = _inbox(signing_alert=expired)
    assert (
        '<p class="notice error" role="alert">Το πιστοποιητικό υπογραφής έληξε στις 01/02/2027 '
        "00:00: βεβαιώσεις, σφραγισμένα έγγραφα και ημερήσια βιβλία δεν υπογράφονται"
    ) in html
    english = _inbox(lang="en", signing_alert=expired)
    assert "The signing certificate expired on 01/02/2027 00:00: certificates, sealed" in english


def test_month_columns_stack_and_scale_to_the_busiest_month() -> None:
    chart = charts.stacked_months({"incoming": [4, 0] + [0] * 10, "outgoing": [4, 2] + [0] * 10})
    assert chart.peak == 8 and chart.series == ("incoming", "outgoing")
    january = [s for s in chart.segments if s.x < chart.month_x[0]]
    assert [s.value for s in january] == [4, 4]
    plot = chart.baseline - 8  # the full height is the busiest month's column
    assert abs(sum(s.height for s in january) - plot) < 1e-6
    assert abs(january[0].y + january[0].height - chart.baseline) < 1e-6  # drawn from the axis
    february = [s for s in chart.segments if chart.month_x[0] < s.x < chart.month_x[1]]
    assert [s.value for s in february] == [2] and abs(february[0].height - plot / 4) < 1e-6


def test_bars_rank_and_cut_the_longest_list() -> None:
    rows = charts.bars({f"D{i}": i for i in range(1, 21)}, limit=3)
    assert [(b.label, b.value, round(b.fraction, 3)) for b in rows] == [
        ("D20", 20, 1.0),
        ("D19", 19, 0.95),
        ("D18", 18, 0.9),
    ]
    assert charts.bars({}) == ()


def _signature(**changes: object) -> SignatureCheck:
    fine = SignatureCheck(
        field="Signature1",
        signer="Δήμος Χανίων",
        intact=True,
        valid=True,
        trusted=True,
        ours=True,
        covers_whole_file=True,
        modification="none",
        signed_at=datetime(2026, 3, 2, 9, 30, tzinfo=UTC),
    )
    return dataclasses.replace(fine, **changes)  # type: ignore[arg-type]


def test_signature_findings_are_said_in_words_with_the_technical_summary_last() -> None:
    problem = "INTACT:UNTRUSTED,UNTOUCHED"
    page = _render(
        "_signatures.html",
        signatures=[
            _signature(),
            _signature(signer="Άλλος φορέας", trusted=False, ours=False, problem=problem),
            _signature(signer="", intact=False, valid=False, problem="CORRUPTED"),
            _signature(covers_whole_file=False, modification="form_filling", problem="x"),
            _signature(covers_whole_file=False, modification="other", problem="y"),
        ],
    )
    items = page.split("<li")[1:]
    assert [item.split('"')[1] for item in items] == ["ok", "untrusted", "bad", "ok", "bad"]
    assert "έγκυρη, έμπιστη, καλύπτει όλο το αρχείο · 02/03/2026 11:30" in items[0]
    assert "<br>" not in items[0]
    assert "δεν ανήκει σε αρχή που εμπιστεύεται" in items[1]
    assert f"Τεχνική περιγραφή: <code>{problem}</code>" in items[1]
    assert "άγνωστος υπογράφων" in items[2] and "άλλαξε μετά την υπογραφή" in items[2]
    assert "προστέθηκαν συμπληρώσεις, υπογραφές ή σχόλια" in items[3]
    assert "με τρόπο που η υπογραφή δεν επιτρέπει" in items[4]
    english = _render("_signatures.html", lang="en", signatures=[_signature(trusted=False)])
    assert "not from an authority this archive trusts" in english


def _registration() -> Registration:
    return Registration(
        id=1,
        book="general",
        year=2026,
        number=7,
        registered_at=datetime(2026, 3, 2, 9, 30, tzinfo=UTC),
        registered_by="maria",
        direction=Direction.INCOMING,
        subject="Απόφαση",
        sender="Άλλος φορέας",
        recipients=(),
        sender_reference=None,
        sender_date=None,
        channel=None,
        classification_code=None,
        confidential=False,
        status=Status.ACTIVE,
    )


def _render_registration(entry: Registration, **context: object) -> str:
    """The registration page of ``entry``, seen by a user who may do nothing on it."""
    page: dict[str, object] = {
        "entry": entry,
        "registered": False,
        "may_register": True,
        "rule_names": {},
        "trail": (),
        "routable": (),
        "staff": (),
        "workable": frozenset(),
        "forwardable": frozenset(),
        "purposes": list(Purpose),
        "open_states": OPEN_STATES,
        "url": "/registrations/general/2026/7",
        "away": frozenset(),
        "same_document": (),
    }
    return _render("registration.html", **(page | context))


def test_work_ended_by_the_cancellation_says_so_and_offers_no_step() -> None:
    at = datetime(2026, 3, 5, 10, tzinfo=UTC)
    ended = dataclasses.replace(
        _entry(7, None, "Απόφαση").assignment,
        state=AssignmentState.WITHDRAWN,
        closed_by="clerk",
        closed_at=at,
    )
    cancelled = dataclasses.replace(
        _registration(),
        status=Status.CANCELLED,
        cancellation=Cancellation("Διπλή", "Απόφαση 7", "clerk", at),
        assignments=(ended,),
    )
    page = _render_registration(
        cancelled,
        workable=frozenset({ended.id}),
        forwardable=frozenset({ended.id}),
        routable=("TECH",),
    )
    assert "έληξε με την ακύρωση" in page
    assert "work-ends" not in page  # said on the form before, not after
    assert "/assignments/7/" not in page  # no step, not even for who could work it
    assert "ended by the cancellation" in _render_registration(cancelled, lang="en")


def test_the_cancellation_form_names_the_work_that_ends_with_the_entry() -> None:
    open_work = _entry(7, None, "Απόφαση").assignment
    done = dataclasses.replace(open_work, id=8, department="DIOIK", state=AssignmentState.COMPLETED)
    entry = dataclasses.replace(_registration(), assignments=(open_work, done))
    admin = dataclasses.replace(CLERK, roles=frozenset({Role.ADMIN}))
    page = _render_registration(
        entry, user=admin, headings=(), department_names={"TECH": "Τεχνικές Υπηρεσίες"}
    )
    assert "Μαζί της λήγουν οι ανοιχτές χρεώσεις της: Τεχνικές Υπηρεσίες (TECH)." in page
    quiet = _render_registration(
        dataclasses.replace(entry, assignments=(done,)), user=admin, headings=()
    )
    assert "Οριστική ακύρωση" in quiet and "λήγουν" not in quiet


def test_the_registration_page_lists_a_files_signatures() -> None:
    signed = StoredFile(
        id=1,
        role=FileRole.MAIN,
        filename="απόφαση.pdf",
        media_type="application/pdf",
        size=20480,
        sha256="a" * 64,
        storage_key="sha256/aa/aa/" + "a" * 64,
        signatures=(_signature(signer="Άλλος φορέας", trusted=False, problem="UNTRUSTED"),),
    )
    page = _render_registration(dataclasses.replace(_registration(), files=(signed,)))
    assert "Άλλος φορέας</strong>:" in page
    assert "δεν ανήκει σε αρχή που εμπιστεύεται" in page


def test_corrections_name_the_field_and_its_values_in_greek() -> None:
    corrections = tuple(
        Correction(field, old, new, "Λάθος", "clerk", datetime(2026, 3, 3, 9, tzinfo=UTC))
        for field, old, new in (
            ("subject", "Αίτηση", "Αίτηση βεβαίωσης"),
            ("channel", None, "counter"),
            ("confidential", False, True),
            ("recipients", ["Α"], ["Α", "Β"]),
            ("related", [], ["general:3/2026", "other:4/2025"]),
        )
    )
    entry = dataclasses.replace(_registration(), corrections=corrections)
    page = _render_registration(entry)
    for shown in (
        "Θέμα «Αίτηση» → «Αίτηση βεβαίωσης»",
        "Τρόπος παραλαβής/αποστολής «—» → «Γκισέ»",
        "Εμπιστευτικό «όχι» → «ναι»",
        "Παραλήπτες «Α» → «Α, Β»",
        "Σχετικά «—» → «3/2026, other:4/2025»",
    ):
        assert shown in page


def test_every_correctable_field_has_a_name_in_greek_and_in_english() -> None:
    assert sorted(CORRECTABLE_FIELDS - set(GREEK_LABELS)) == []
    assert sorted(CORRECTABLE_FIELDS - set(ENGLISH)) == []


def test_related_entries_of_another_book_are_shown_with_their_book() -> None:
    entry = dataclasses.replace(
        _registration(),
        related=(ProtocolRef("general", 2026, 3), ProtocolRef("confidential", 2026, 1)),
        referenced_by=(ProtocolRef("general", 2026, 9),),
    )
    page = _render_registration(entry)
    assert '<a href="/registrations/general/2026/3">3/2026</a>' in page
    assert '<a href="/registrations/confidential/2026/1">confidential:1/2026</a>' in page
    assert '<a href="/registrations/general/2026/9">9/2026</a>' in page


def test_numbers_and_sizes_are_written_as_the_page_s_language_writes_them() -> None:
    environment = template_engine().engine
    numbers = environment.from_string(
        "{{ 121884 | number }} | {{ 2.46 | number(1) }} | {{ 7372 | size }} | {{ 1363149 | size }}"
    )
    assert numbers.render(lang="el") == "121.884 | 2,5 | 7,2 KB | 1,3 MB"
    assert numbers.render(lang="en") == "121,884 | 2.5 | 7.2 KB | 1.3 MB"


def test_a_facet_of_many_values_shows_the_most_frequent_and_folds_the_rest() -> None:
    """A filing plan has hundreds of headings: eight, then the rest behind «Περισσότερα»."""
    headings = {f"Φ.{i}": i for i in range(1, 13)}
    result = SearchResult(
        total=78,
        hits=(),
        facets={"year": {str(y): 1 for y in range(2014, 2027)}, "classification": headings},
    )
    page = _render(
        "search.html",
        q="άδεια",
        result=result,
        active=dict.fromkeys(("year", "direction", "department", "classification", "from", "to")),
        department_names={},
        headings={"Φ.12": Classification("Φ.12", "Βεβαιώσεις", 5, Disposal.DESTROY)},
        error=None,
        offset=0,
    )
    shown, folded = page.split('<details class="more-facets">')[-2:]
    assert 'Φ.12 · Βεβαιώσεις</a> <span class="count">12</span>' in shown  # the most frequent
    assert "classification=%CE%A6.5" in shown and "classification=%CE%A6.4" not in shown
    assert "Περισσότερα (4)" in folded and 'classification=%CE%A6.1"' in folded
    assert page.count("<details") == 1  # years are all shown, newest first
    assert page.index(">2026<") < page.index(">2014<")


def test_a_form_s_date_field_is_a_date_or_nothing() -> None:
    form = FormMultiDict({"due": "2026-03-14", "sender_date": "", "on": "14/03/2026"})
    assert form_day(form, "due", DUE_DATE()) == date(2026, 3, 14)
    assert form_day(form, "sender_date", DUE_DATE()) is None
    assert form_day(form, "missing", DUE_DATE()) is None
    with pytest.raises(InvalidInput, match="the due date is not a date") as refused:
        form_day(form, "on", DUE_DATE())
    assert refused.value.field == "on"


def _disposal_page(since: date | None) -> str:
    """The disposal page on one group, after a decision on the list up to 31/12/2036."""
    group = DisposalGroup(
        "general", 2026, None, Disposal.REVIEW, 3, 0, 3, 3000, datetime(2036, 6, 1, tzinfo=UTC)
    )
    decision = DisposalDecision(
        1,
        "Πρακτικό 1/2037",
        date(2037, 1, 10),
        None,
        date(2036, 12, 31),
        (),
        "admin",
        datetime(2037, 1, 10, tzinfo=UTC),
    )
    return _render(
        "admin_disposal.html",
        refused=None,
        default_book="general",
        on=date(2037, 3, 1),
        since=since,
        groups=[group],
        decisions=[decision],
        next_since=date(2037, 1, 1),
        today=date(2037, 3, 1),
        people={},
    )


@pytest.mark.parametrize(
    ("since", "said"),
    [
        (None, "αρχίζει πριν από το τέλος της απόφασης «Πρακτικό 1/2037» (31/12/2036)"),
        (date(2036, 6, 1), "αρχίζει πριν από το τέλος της απόφασης «Πρακτικό 1/2037»"),
        (date(2037, 2, 1), "αφήνει εκτός όσα έληξαν από 01/01/2037."),
        (date(2037, 1, 1), None),
    ],
)
def test_only_the_list_after_the_last_decision_offers_to_record_one(
    since: date | None, said: str | None
) -> None:
    shown = _disposal_page(since)
    assert ("Καταχώριση της απόφασης" in shown) is (said is None)
    if said is not None:
        assert said in shown and "Νέα απόφαση καταχωρίζεται για τον επόμενο κατάλογο." in shown


def test_work_ended_by_a_cancellation_is_listed_only_when_there_is_some() -> None:
    assert "ended" not in _inbox()
    withdrawn = _entry(7, None, "Αίτηση που ακυρώθηκε")
    ended = dataclasses.replace(
        withdrawn.assignment,
        state=AssignmentState.WITHDRAWN,
        closed_by="clerk",
        closed_at=datetime(2026, 5, 19, 9, tzinfo=UTC),
    )
    shown = _inbox(ended=(InboxEntry(ended, withdrawn.subject),))
    assert "Έληξαν με την ακύρωση της καταχώρισης, τις τελευταίες 7 ημέρες" in shown
    assert '<a href="/registrations/general/2026/7">7/2026</a>' in shown
    assert "Αίτηση που ακυρώθηκε" in shown and "19/05/2026 12:00" in shown


def test_a_certificate_field_s_hint_is_said_under_it_and_read_with_it() -> None:
    """The counter employee sees how the certificate's sentence goes on before writing it."""
    generic = load_templates(None)["generic"]
    html = _render(
        "certificates.html",
        templates=[generic],
        chosen=generic,
        values={},
        submission="s",
        error=None,
    )
    field = re.search(r"<textarea id=\"f-statement\"[^>]*>", html)
    assert field is not None and 'aria-describedby="f-statement-hint"' in field.group()
    hint = re.search(r'<p class="muted"><small id="f-statement-hint">([^<]*)</small>', html)
    assert hint is not None and "Βεβαιώνεται ότι ο/η [ονοματεπώνυμο]" in hint.group(1)
    assert 'id="f-full_name"' in html and "f-full_name-hint" not in html  # none, nothing said
