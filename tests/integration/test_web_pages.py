"""End-to-end: the web pages driven by real headless Chromium against a real server.

Debian's ``chromium`` (installed by the test command) runs under Playwright with
``executable_path``; Playwright never downloads a browser. Every page visited is
saved as a screenshot at 1280 and 375 px under ``test-artifacts/screenshots/``
and checked for horizontal overflow, stack traces, replacement characters,
fonts without Greek glyphs, script that user text managed to run, and
axe-core's WCAG 2.1 A/AA rules.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Locator, Page, expect
from playwright.sync_api import Error as PlaywrightError

from eprotocol.config import SigningConfig
from eprotocol.pdf.signing import PadesSigner, create_development_identity
from tests.pdfs import greek_pdf, make_pdf
from tests.support import (
    CHROMIUM,
    MailSink,
    chromium,
    clean_env,
    login,
    place_signing_key,
    run_cli,
    serve,
)

ARTEFACTS = Path(os.environ.get("EPROTOCOL_TEST_ARTIFACTS", "test-artifacts")) / "screenshots"
PASSWORD = "correct horse battery staple"
WIDTHS = (1280, 375)
#: Markup a user might type; it must show as text and never run.
HOSTILE = '<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2">'
SUBJECT = f"Αίτηση για κλάδεμα δέντρων στην οδό Χάληδων {HOSTILE}"
SENDER = 'Γιώργος <b onmouseover="window.__xss = 3">Παπαδάκης</b>'
AXE = Axe()
WCAG_AA = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
    "resultTypes": ["violations"],
}
#: Fonts with Greek glyphs that the pages may be drawn with.
GREEK_FONTS = {"DejaVu Sans", "DejaVu Sans Mono", "DejaVu Serif", "Noto Sans", "Noto Sans Mono"}

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed")


@dataclass
class Site:
    """A running server on the embedded defaults, and where its archive lives."""

    base: str
    root: Path
    year: int


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("web")
    env = clean_env()
    servers = serve(root, env, "--admin-password", PASSWORD)
    base = next(servers)
    try:
        yield Site(base, root, datetime.now(ZoneInfo("Europe/Athens")).year)
    finally:
        next(servers, None)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


def _fonts_used(page: Page) -> set[str]:
    """Families Chromium drew the text of headings, labels, cells and links with."""
    cdp = page.context.new_cdp_session(page)
    try:
        cdp.send("DOM.enable")
        cdp.send("CSS.enable")
        root = cdp.send("DOM.getDocument", {"depth": -1})["root"]["nodeId"]
        nodes = cdp.send(
            "DOM.querySelectorAll",
            {"nodeId": root, "selector": "h1, h2, p, label, td, th, dd, dt, li, a, button"},
        )["nodeIds"]
        families: set[str] = set()
        for node in nodes[:80]:
            try:
                fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
            except PlaywrightError:  # a node that is not drawn (inside a closed <details>)
                continue
            families |= {f["familyName"] for f in fonts}
        return families
    finally:
        cdp.detach()


def inspect(page: Page, name: str) -> None:
    """Screenshot the page at each width and check it shows nothing broken."""
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=ARTEFACTS / f"{name}-{width}.png", full_page=True)
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{name} at {width}px is {overflow}px wider than the window"
    text = page.inner_text("body")
    for broken in ("Traceback", "Internal Server Error", "\ufffd", "jinja2", "Exception"):
        assert broken not in text, f"{name} shows {broken!r}"
    assert page.evaluate("window.__xss") is None, f"user text ran as script on {name}"
    unlabelled = page.evaluate(
        """[...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
             .filter(e => e.labels.length === 0 && !e.getAttribute('aria-label'))
             .map(e => e.name)"""
    )
    assert unlabelled == [], f"{name} has fields without a label: {unlabelled}"
    for width in WIDTHS:  # contrast, labels, names, landmarks... at both widths (axe-core)
        page.set_viewport_size({"width": width, "height": 900})
        audit = AXE.run(page, options=WCAG_AA)
        assert audit.violations_count == 0, f"{name} at {width}px:\n{audit.generate_report()}"
    fonts = _fonts_used(page)
    assert fonts and fonts <= GREEK_FONTS, f"{name} is drawn with {fonts - GREEK_FONTS}"
    page.set_viewport_size({"width": WIDTHS[0], "height": 900})


def log_in(page: Page, base: str, username: str, password: str = PASSWORD) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("Όνομα χρήστη").fill(username)
    page.get_by_label("Κωδικός πρόσβασης").fill(password)
    page.get_by_role("button", name="Σύνδεση").click()
    expect(page.get_by_role("button", name="Αποσύνδεση")).to_be_visible()


def administration(browser: Browser, site: Site) -> Page:
    """A new browser session of the administrator, on the administration page."""
    page = browser.new_context(locale="el-GR").new_page()
    log_in(page, site.base, "admin")
    page.goto(f"{site.base}/admin")
    return page


def fill_registration_form(page: Page, site: Site, folder: Path, subject: str) -> None:
    """Open the registration form and give it a one-page PDF and ``subject``; not sent yet."""
    page.goto(f"{site.base}/register")
    pdf = folder / "αίτηση.pdf"
    pdf.write_bytes(greek_pdf(subject))
    page.locator("#files").set_input_files(str(pdf))
    page.locator("#subject").fill(subject)


def add_department(page: Page, code: str, name: str, digest_email: str = "") -> None:
    """On the administration page: open the new-department form and send it."""
    page.get_by_text("Νέο τμήμα").click()
    page.locator("#d-code").fill(code)
    page.locator("#d-name").fill(name)
    page.locator("#d-email").fill(digest_email)
    page.get_by_role("button", name="Προσθήκη τμήματος").click()


def add_user(
    page: Page, username: str, full_name: str, department: str, roles: tuple[str, ...] = ("staff",)
) -> None:
    """On the administration page: add a user with :data:`PASSWORD`; it is shown once."""
    page.get_by_text("Νέος χρήστης").click()
    page.locator("#u-username").fill(username)
    page.locator("#u-full").fill(full_name)
    page.locator("#u-dept").select_option(department)
    page.locator("#u-password").fill(PASSWORD)
    for role in page.locator("#users input[name=roles]").all():
        role.set_checked(role.get_attribute("value") in roles)
    page.get_by_role("button", name="Προσθήκη χρήστη").click()
    expect(page.get_by_test_id("password")).to_have_text(PASSWORD)


def add_rule(
    page: Page,
    name: str,
    words: str,
    department: str,
    purpose: str = "action",
    *,
    automatic: bool = False,
) -> None:
    """On the administration page: a routing rule suggesting ``department`` for ``words``."""
    page.get_by_text("Νέος κανόνας").click()
    page.locator("#r-name").fill(name)
    page.locator("#r-words").fill(words)
    page.locator("#r-dept").select_option(department)
    page.locator("#r-purpose").select_option(purpose)
    page.locator("#r-auto").set_checked(automatic)
    page.get_by_role("button", name="Προσθήκη κανόνα").click()


def log_out(page: Page) -> None:
    page.get_by_role("button", name="Αποσύνδεση").click()
    expect(page).to_have_url(re.compile(r"/login$"))


def _drawn_width(image: Locator) -> int:
    """The width of an image once the browser has loaded and decoded it (fails if it cannot)."""
    width: int = image.evaluate("img => img.decode().then(() => img.naturalWidth)")
    return width


def _wait_for_hits(page: Page, base: str, query: str, timeout_s: float = 60) -> None:
    """Search until the background indexer has caught up with the registration."""
    deadline = time.monotonic() + timeout_s
    while True:
        page.goto(f"{base}/search?q={query}")
        if page.locator(".hit-list li").count() > 0:
            return
        assert time.monotonic() < deadline, f"no hit for {query!r} in {timeout_s}s"
        page.wait_for_timeout(500)


def test_a_document_from_registration_to_a_cancelled_certificate(
    site: Site, browser: Browser, tmp_path: Path
) -> None:
    base, year = site.base, site.year
    staff = browser.new_context(locale="el-GR")
    page = staff.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # Pages answer 401, 404... on purpose; what they load (styles, scripts, images) must not fail.
    page.on(
        "response",
        lambda r: (
            errors.append(f"{r.status} {r.url}")
            if r.status >= 400 and r.request.resource_type != "document"
            else None
        ),
    )

    # A page needs a login; the form comes back with where the user was going.
    page.goto(f"{base}/search")
    expect(page).to_have_url(re.compile(r"/login\?next=/search$"))
    inspect(page, "login")
    page.get_by_label("Όνομα χρήστη").fill("admin")
    page.get_by_label("Κωδικός πρόσβασης").fill("wrong password")
    page.get_by_role("button", name="Σύνδεση").click()
    expect(page.get_by_role("alert")).to_have_text("Λάθος όνομα χρήστη ή κωδικός.")
    log_in(page, base, "admin")
    inspect(page, "inbox-admin")

    # The administrator sets up a department, its employee and a routing rule.
    page.goto(f"{base}/admin")
    expect(page.locator("#departments tbody")).to_have_text(
        "Κανένα τμήμα ακόμη: προσθέστε το πρώτο."  # a new archive (and numbers from 1, below)
    )
    add_department(page, "TECH", "Διεύθυνση Τεχνικών Υπηρεσιών")
    add_user(page, "maria", "Μαρία <i>Κ.</i> Σηφάκη", "TECH")
    inspect(page, "user-created")
    page.goto(f"{base}/admin")
    add_rule(page, "Πράσινο", "κλάδεμα", "TECH")
    expect(page.locator("#users")).to_contain_text("Μαρία <i>Κ.</i> Σηφάκη")
    inspect(page, "admin")

    # Register an incoming PDF: the rule suggests TECH; the number shows big and clear.
    pdf = tmp_path / "αίτηση.pdf"
    pdf.write_bytes(greek_pdf("Αίτηση κλαδέματος δέντρων", "Δεύτερη σελίδα"))
    page.goto(f"{base}/register")
    page.locator("#files").set_input_files(str(pdf))
    expect(page.locator("#file-list")).to_contain_text("αίτηση.pdf")
    page.locator("#sender").fill(SENDER)
    page.get_by_label("Θέμα", exact=False).first.fill(SUBJECT)
    page.locator("#subject").press("Tab")  # leaving the field asks for suggestions
    suggestion = page.locator("#suggestions input[name=route][value=TECH]")
    expect(suggestion).to_be_checked()
    suggestion.uncheck()  # routed by hand below, to exercise the assignment form
    inspect(page, "register")
    page.get_by_role("button", name="Καταχώριση και απόδοση αριθμού").click()
    expect(page.get_by_test_id("protocol-number")).to_have_text(f"1/{year}")
    expect(page.locator(".subject-line")).to_have_text(SUBJECT)
    expect(page.locator("dl.facts")).to_contain_text(SENDER)
    preview = page.locator(".file-card img").first
    expect(preview).to_be_visible()
    assert _drawn_width(preview) > 100
    inspect(page, "registration-new")
    detail = page.url.split("?")[0]

    page.get_by_role("link", name="Απόδειξη για εκτύπωση").click()
    expect(page.locator(".big-number")).to_have_text(f"1/{year}")
    inspect(page, "receipt")
    page.goto(detail)
    page.get_by_role("link", name="Προβολή σελίδων").click()
    expect(page.get_by_text("Σελίδα 1 / 2")).to_be_visible()
    page.get_by_role("link", name="Επόμενη →").click()
    expect(page.get_by_text("Σελίδα 2 / 2")).to_be_visible()
    assert _drawn_width(page.locator(".page-image")) > 100
    inspect(page, "file-pages")

    page.goto(detail)
    page.get_by_text("Νέα χρέωση").click()
    page.locator("#department").select_option("TECH")
    page.get_by_role("button", name="Χρέωση", exact=True).click()
    expect(page.locator(".timeline")).to_contain_text("TECH")
    expect(page.locator(".timeline")).to_contain_text("εκκρεμεί")
    log_out(page)

    # The department's employee accepts and completes it from the inbox.
    log_in(page, base, "maria")
    menu = page.get_by_role("navigation", name="Κύριο μενού")
    expect(menu.get_by_role("link", name="Εισερχόμενα")).to_be_visible()
    for other in ("Καταχώριση", "Βεβαιώσεις", "Διαχείριση"):  # not this user's work
        expect(menu.get_by_role("link", name=other)).to_have_count(0)
    refused = page.goto(f"{base}/admin")
    assert refused is not None and refused.status == 403
    expect(page.locator("h1")).to_have_text("Δεν επιτρέπεται")
    expect(page.get_by_role("alert")).to_have_text(
        "Ο χρήστης maria δεν μπορεί να διαχειριστεί υπηρεσίες, χρήστες, κανόνες χρέωσης, "
        "το σχέδιο αρχειοθέτησης και τις μεταφορές βιβλίων."
    )
    inspect(page, "forbidden")
    page.goto(base)
    work = page.locator("section[aria-labelledby=dept] tbody tr")
    expect(work).to_have_count(1)
    expect(work).to_contain_text("κλάδεμα")
    inspect(page, "inbox-department")
    work.get_by_role("button", name="Παραλαβή").click()
    expect(work).to_contain_text("σε εξέλιξη")
    work.get_by_role("button", name="Ολοκλήρωση").click()
    expect(page.locator("section[aria-labelledby=dept]")).to_contain_text(
        "Το τμήμα δεν έχει ανοιχτές χρεώσεις."
    )
    page.goto(detail)
    expect(page.locator(".timeline .state")).to_have_text("ολοκληρώθηκε")
    inspect(page, "registration-completed")

    # Search in Greek, in another form of the word: the match is marked, the markup is text.
    _wait_for_hits(page, base, "κλαδέματα")
    page.goto(f"{base}/search")  # as staff search: words typed, no dates (sent empty)
    page.locator("#q").fill("κλαδέματα")
    page.get_by_role("button", name="Αναζήτηση").click()
    expect(page).to_have_url(re.compile(r"from=&to="))
    hit = page.locator(".hit-list li").first
    expect(hit).to_contain_text(f"1/{year}")
    expect(hit.locator("mark").first).to_be_visible()
    expect(hit).to_contain_text("<script>window.__xss = 1</script>")
    expect(page.locator(".facets")).to_contain_text("Διεύθυνση Τεχνικών Υπηρεσιών (TECH)")
    inspect(page, "search")
    mistyped = page.goto(f"{base}/search?q=date:[20261301 to 20261231]")
    assert mistyped is not None and mistyped.status == 422
    expect(page.get_by_role("alert")).to_contain_text("month must be in 1..12")
    expect(page.locator("#q")).to_have_value("date:[20261301 to 20261231]")  # to mend it there
    inspect(page, "search-mistyped")
    log_out(page)

    # At the counter: issue a certificate, signed and numbered, ready to print.
    log_in(page, base, "admin")
    page.goto(f"{base}/certificates")
    inspect(page, "certificates")
    page.get_by_role("link", name="Βεβαίωση", exact=True).click()
    page.get_by_label("Ονοματεπώνυμο").fill("Ελένη <u>Μαρκάκη</u>")
    page.get_by_label("Τι βεβαιώνεται").fill("είναι δημότης του Δήμου Χανίων.")
    inspect(page, "certificate-form")
    page.get_by_role("button", name="Έκδοση, υπογραφή και πρωτοκόλληση").click()
    expect(page.get_by_test_id("protocol-number")).to_have_text(f"2/{year}")
    code = page.get_by_test_id("verification-code").inner_text().strip()
    assert code
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Λήψη PDF για εκτύπωση").click()
    certificate = tmp_path / "certificate.pdf"
    download_info.value.save_as(certificate)
    assert certificate.read_bytes().startswith(b"%PDF")
    inspect(page, "certificate-issued")
    certificate_page = page.url.split("?")[0]

    # A citizen, on a phone, without logging in: by code and by uploading the file.
    citizen = browser.new_context(viewport={"width": 375, "height": 800}, locale="el-GR")
    phone = citizen.new_page()
    phone.goto(f"{base}/verify")
    inspect(phone, "verify-form")
    phone.get_by_label("Κωδικός επαλήθευσης", exact=False).fill(code)
    phone.get_by_role("button", name="Έλεγχος κωδικού").click()
    expect(phone.get_by_test_id("verification-status")).to_have_text("Έγκυρο έγγραφο")
    expect(phone.locator("body")).not_to_contain_text("Μαρκάκη")  # no personal data
    inspect(phone, "verify-valid")
    phone.goto(f"{base}/verify")
    phone.locator("#file").set_input_files(str(certificate))
    phone.get_by_role("button", name="Έλεγχος αρχείου").click()
    expect(phone.get_by_test_id("upload-status")).to_have_text("Αυθεντικό έγγραφο")
    inspect(phone, "verify-upload")
    phone.goto(f"{base}/verify")
    phone.get_by_label("Κωδικός επαλήθευσης", exact=False).fill("ABC-123")
    phone.get_by_role("button", name="Έλεγχος κωδικού").click()
    expect(phone.get_by_role("alert")).to_contain_text("16 γράμματα και ψηφία")
    inspect(phone, "verify-mistyped")
    phone.goto(f"{base}/verify/2345-6789-ABCD-EFGH")
    expect(phone.get_by_test_id("verification-status")).to_have_text(
        "Δεν βρέθηκε έγγραφο με αυτόν τον κωδικό"
    )
    inspect(phone, "verify-unknown")

    # Cancelled at the office: the citizen's page says so.
    page.goto(certificate_page)
    page.get_by_text("Ακύρωση καταχώρισης").click()
    page.locator("#reason").fill("Λάθος στοιχεία <script>window.__xss = 4</script>")
    page.locator("#authorisation").fill("Εντολή Δημάρχου 12/2026")
    page.get_by_role("button", name="Οριστική ακύρωση").click()
    expect(page.locator("h1")).to_contain_text("ΑΚΥΡΩΜΕΝΟ")
    expect(page.locator("body")).to_contain_text("<script>window.__xss = 4</script>")
    inspect(page, "registration-cancelled")
    phone.goto(f"{base}/verify/{code}")
    expect(phone.get_by_test_id("verification-status")).to_have_text("Το έγγραφο έχει ακυρωθεί")
    inspect(phone, "verify-cancelled")

    # Statistics: charts, yearly totals, CSV.
    page.goto(f"{base}/statistics")
    expect(page.locator(".headline")).to_contain_text(f"1 υπόθεση το {year}")
    expect(page.locator("svg.chart").first).to_be_visible()
    by_department = page.get_by_role("region", name="Χρεώσεις ανά τμήμα")
    expect(by_department.locator("li")).to_have_text(["Διεύθυνση Τεχνικών Υπηρεσιών (TECH)1"])
    expect(page.get_by_role("region", name="Καταχωρίσεις ανά θέμα αρχειοθέτησης")).to_contain_text(
        "Χωρίς θέμα αρχειοθέτησης"
    )
    expect(page.locator("#times-h + .table-wrap")).to_contain_text("Διεύθυνση Τεχνικών Υπηρεσιών")
    inspect(page, "statistics")
    with page.expect_download() as csv_info:
        page.get_by_role("link", name="Λήψη CSV").click()
    rows = list(csv.reader(io.StringIO(Path(csv_info.value.path()).read_text("utf-8-sig"))))
    assert ["total", "", "", "2"] in rows and ["cancelled", "", "", "1"] in rows
    assert not [r for r in rows if r[0] == "certificates"]  # the cancelled one is not counted

    # English on request, remembered; a missing entry is a page, not a trace.
    page.goto(f"{base}/?lang=en")
    expect(page.get_by_role("link", name="Inbox")).to_be_visible()
    page.goto(f"{base}/search?q=κλάδεμα&lang=el")
    page.get_by_role("link", name="English").click()  # the search stays
    expect(page.get_by_role("heading", name="Search")).to_be_visible()
    expect(page.locator(".hit-list")).to_contain_text(f"1/{year}")
    inspect(page, "search-en")
    page.goto(f"{base}/?lang=el")
    response = page.goto(f"{base}/registrations/main/{year}/999")
    assert response is not None and response.status == 404
    expect(page.locator("h1")).to_have_text("Δεν βρέθηκε")
    inspect(page, "not-found")
    # A mistyped address or an old bookmark: the same page, with the menu, not JSON.
    response = page.goto(f"{base}/registrations/new")
    assert response is not None and response.status == 404
    expect(page.locator("h1")).to_have_text("Δεν βρέθηκε")
    expect(page.get_by_role("link", name="Αναζήτηση")).to_be_visible()

    assert errors == [], errors
    staff.close()
    citizen.close()


def test_forms_without_the_csrf_token_are_refused(site: Site) -> None:
    with httpx.Client(base_url=site.base, follow_redirects=False) as client:
        form = client.get("/login")
        token = re.search(r'name="_csrf_token" value="([^"]+)"', form.text)
        assert token is not None
        refused = client.post("/login", data={"username": "admin", "password": PASSWORD})
        assert refused.status_code == 403
        assert "eprotocol_session" not in refused.cookies
        accepted = client.post(
            "/login",
            data={"username": "admin", "password": PASSWORD, "_csrf_token": token.group(1)},
        )
        assert accepted.status_code == 303
        cookie = accepted.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("samesite", "SameSite")
        # Checking a document changes nothing: citizens need no cookie for it.
        checked = client.post(
            "/verify", files={"file": ("x.pdf", greek_pdf("Χ"), "application/pdf")}
        )
        assert checked.status_code == 200 and "Το αρχείο δεν επιβεβαιώνεται" in checked.text
        # A password the rules refuse creates no user without one.
        token_now = re.search(r'name="_csrf_token" value="([^"]+)"', client.get("/admin").text)
        assert token_now is not None
        short = client.post(
            "/admin/users",
            data={
                "username": "nikos",
                "full_name": "Νίκος",
                "roles": "auditor",
                "password": "short",
                "_csrf_token": token_now.group(1),
            },
        )
        assert short.status_code == 422 and "από 10 έως 256 χαρακτήρες" in short.text
        assert "nikos" not in client.get("/admin").text
        # Logged in, a state-changing form without the token is still refused.
        refused = client.post("/admin/departments", data={"code": "X", "name": "X"})
        assert refused.status_code == 403
        assert "X" not in client.get("/admin").text.split("departments-h")[1].split("</table>")[0]


def test_a_fragment_asked_for_without_a_session_sends_the_whole_page_to_the_login(
    site: Site,
) -> None:
    """The routing suggestions after the session ended: the page goes to the login and back."""
    with httpx.Client(base_url=site.base, follow_redirects=False) as client:
        token = re.search(r'name="_csrf_token" value="([^"]+)"', client.get("/login").text)
        assert token is not None
        answer = client.post(
            "/register/suggestions",
            data={"subject": "Αίτηση", "_csrf_token": token.group(1)},
            headers={
                "HX-Request": "true",
                "HX-Current-URL": f"{site.base}/register?direction=incoming",
            },
        )
    assert answer.status_code == 200  # htmx acts on redirects only in answers that succeed
    assert answer.headers["HX-Redirect"] == "/login?next=/register%3Fdirection%3Dincoming"


def test_a_login_goes_back_only_to_this_site(site: Site, browser: Browser) -> None:
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{site.base}/login?next=//evil.example/steal")
    page.get_by_label("Όνομα χρήστη").fill("admin")
    page.get_by_label("Κωδικός πρόσβασης").fill(PASSWORD)
    page.get_by_role("button", name="Σύνδεση").click()
    expect(page).to_have_url(f"{site.base}/")
    context.close()


def test_a_signed_upload_shows_what_its_signature_means(
    site: Site, browser: Browser, tmp_path: Path
) -> None:
    """Another authority's signed PDF: intact, but from a certificate the archive does not trust."""
    identity = tmp_path / "stranger.p12"
    create_development_identity(identity, b"pw", "Περιφέρεια Κρήτης")
    signed = tmp_path / "απόφαση.pdf"
    signer = PadesSigner(SigningConfig(identity, b"pw"))
    # pyHanko runs its own event loop: not in this thread, where Playwright's runs.
    with ThreadPoolExecutor(1) as thread:
        signed.write_bytes(thread.submit(signer.sign, greek_pdf("Απόφαση")).result())
    context = browser.new_context(locale="el-GR")
    page = context.new_page()
    log_in(page, site.base, "admin")
    page.goto(f"{site.base}/register")
    page.locator("#files").set_input_files(str(signed))
    page.locator("#sender").fill("Περιφέρεια Κρήτης")
    page.locator("#subject").fill("Απόφαση για τη χρηματοδότηση έργου")
    page.get_by_role("button", name="Καταχώριση και απόδοση αριθμού").click()
    expect(page.get_by_test_id("protocol-number")).to_be_visible()
    finding = page.locator(".file-card .signatures li")
    expect(finding).to_have_count(1)
    expect(finding).to_have_class("untrusted")  # not green: anybody can make such a key
    expect(finding).to_contain_text("Περιφέρεια Κρήτης")
    expect(finding).to_contain_text("έγκυρη, καλύπτει όλο το αρχείο")
    expect(finding).to_contain_text(
        "Το πιστοποιητικό δεν ανήκει σε αρχή που εμπιστεύεται το αρχείο."
    )
    expect(finding).to_contain_text("Τεχνική περιγραφή")
    inspect(page, "registration-signed-upload")
    context.close()


def test_staff_who_move_or_leave_are_managed_from_the_admin_pages(
    site: Site, browser: Browser
) -> None:
    """Refused forms keep what was typed; a deactivated user's open session stops at once."""
    admin = administration(browser, site)
    add_department(admin, "KEP", "Τμήμα ΚΕΠ")
    # Typed again on a Greek keyboard: refused, and the form keeps what was typed.
    add_department(admin, "ΚΕΡ", "Κέντρο Εξυπηρέτησης Πολιτών Σούδας", "soudas@chania.gr")
    expect(admin.locator("#departments [role=alert]")).to_contain_text(
        "Ο κωδικός 'ΚΕΡ' μοιάζει με τον κωδικό του τμήματος 'KEP'"
    )
    expect(admin.locator("#d-name")).to_have_value("Κέντρο Εξυπηρέτησης Πολιτών Σούδας")
    expect(admin.locator("#d-email")).to_have_value("soudas@chania.gr")
    inspect(admin, "admin-refused")
    admin.locator("#d-code").fill("KEP.SOUDA")
    admin.locator("#d-parent").select_option("KEP")
    admin.get_by_role("button", name="Προσθήκη τμήματος").click()
    add_user(admin, "eleni.p", "Ελένη Παπαδογιάννη", "KEP")

    eleni = browser.new_context(locale="el-GR").new_page()
    log_in(eleni, site.base, "eleni.p")
    expect(eleni.locator("#dept")).to_contain_text("Του τμήματός μου · Τμήμα ΚΕΠ (KEP)")

    # A transfer to Souda: with no role ticked it is refused and the typed values stay.
    admin.goto(f"{site.base}/admin")
    admin.get_by_role("link", name="eleni.p").click()
    admin.locator("#u-dept").select_option("KEP.SOUDA")
    admin.locator("#u-email").fill("e.papadogianni@chania.gr")
    admin.locator("#role-staff").uncheck()
    admin.get_by_role("button", name="Αποθήκευση αλλαγών").click()
    expect(admin.get_by_role("alert")).to_have_text("Ο χρήστης χρειάζεται τουλάχιστον έναν ρόλο.")
    expect(admin.locator("#u-dept")).to_have_value("KEP.SOUDA")
    expect(admin.locator("#u-email")).to_have_value("e.papadogianni@chania.gr")
    admin.locator("#role-staff").check()
    admin.get_by_role("button", name="Αποθήκευση αλλαγών").click()
    expect(admin.get_by_role("status")).to_have_text("Οι αλλαγές αποθηκεύτηκαν.")
    admin.reload()  # what is shown is what was stored
    expect(admin.locator("#u-dept")).to_have_value("KEP.SOUDA")
    expect(admin.locator("#u-email")).to_have_value("e.papadogianni@chania.gr")
    inspect(admin, "admin-user")

    admin.locator("#t-name").fill("  ")  # refused: what is it for?
    admin.get_by_role("button", name="Νέο κλειδί API").click()
    expect(admin.get_by_role("alert")).to_have_text("Συμπληρώστε: Όνομα.")
    admin.locator("#t-name").fill("Σαρωτής ΚΕΠ")
    admin.get_by_role("button", name="Νέο κλειδί API").click()
    token = admin.get_by_test_id("token").inner_text()
    inspect(admin, "token-created")
    api = httpx.Client(base_url=site.base, headers={"Authorization": f"Bearer {token}"})
    assert api.get("/api/v1/registrations").status_code == 200
    admin.goto(f"{site.base}/admin/users/eleni.p")
    expect(admin.locator("#tokens")).to_contain_text("Σαρωτής ΚΕΠ")
    admin.get_by_role("button", name="Ανάκληση").click()
    expect(admin.locator("#tokens")).to_contain_text("ανακλήθηκε")
    assert api.get("/api/v1/registrations").status_code == 401

    # She leaves: her session, open in another browser, ends at her next click.
    admin.get_by_role("button", name="Απενεργοποίηση λογαριασμού").click()
    expect(admin.get_by_test_id("inactive")).to_be_visible()
    eleni.goto(f"{site.base}/search")
    expect(eleni).to_have_url(re.compile(r"/login\?next=/search$"))
    admin.goto(f"{site.base}/admin/users/admin")
    admin.get_by_role("button", name="Απενεργοποίηση λογαριασμού").click()
    expect(admin.get_by_role("alert")).to_contain_text("δεν απενεργοποιεί τον εαυτό του")

    admin.goto(f"{site.base}/admin/departments/KEP")
    admin.locator("#d-email").fill("kep@chania.gr")
    admin.get_by_role("button", name="Αποθήκευση αλλαγών").click()
    expect(admin.locator("#departments")).to_contain_text("kep@chania.gr")
    admin.goto(f"{site.base}/admin/departments/KEP")
    inspect(admin, "admin-department")

    admin.goto(f"{site.base}/admin")
    add_rule(admin, "Δημοτολόγιο στα ΚΕΠ", "δημοτολόγιο", "KEP")
    remove = admin.get_by_role("button", name="Αφαίρεση κανόνα «Δημοτολόγιο στα ΚΕΠ»")
    remove.click()
    expect(remove).to_have_count(0)
    api.close()
    admin.context.close()
    eleni.context.close()


def test_a_department_abolished_in_a_reorganisation_is_closed_from_its_page(
    site: Site, browser: Browser
) -> None:
    admin = administration(browser, site)
    add_department(admin, "PROS", "Τμήμα Προσωπικού")
    add_user(admin, "giannis.m", "Γιάννης Μαυράκης", "PROS")
    admin.goto(f"{site.base}/admin/departments/PROS")
    admin.get_by_role("button", name="Κατάργηση τμήματος").click()
    expect(admin.get_by_role("alert")).to_have_text(
        "Στο τμήμα PROS ανήκουν ακόμη 1 ενεργοί χρήστες: μετακινήστε τους πρώτα."
    )
    admin.goto(f"{site.base}/admin/users/giannis.m")
    admin.get_by_role("button", name="Απενεργοποίηση λογαριασμού").click()
    admin.goto(f"{site.base}/admin/departments/PROS")
    admin.get_by_role("button", name="Κατάργηση τμήματος").click()
    expect(admin.get_by_test_id("closed")).to_contain_text("Το τμήμα καταργήθηκε")
    inspect(admin, "admin-department-closed")

    # Listed with the day it closed; offered by no form any more.
    admin.goto(f"{site.base}/admin")
    expect(admin.locator("#departments tr", has_text="PROS")).to_contain_text("καταργήθηκε")
    for select in ("#d-parent", "#u-dept", "#r-dept"):
        expect(admin.locator(f"{select} option[value=PROS]")).to_have_count(0)
    admin.goto(f"{site.base}/register")
    expect(admin.locator("input[name=route][value=PROS]")).to_have_count(0)
    admin.goto(f"{site.base}/admin/users/giannis.m")  # who left from there stays there
    expect(admin.locator("#u-dept")).to_have_value("PROS")

    admin.goto(f"{site.base}/admin/departments/PROS")
    admin.get_by_role("button", name="Επαναφορά τμήματος").click()
    expect(admin.get_by_test_id("closed")).to_have_count(0)
    admin.goto(f"{site.base}/register")
    expect(admin.locator("input[name=route][value=PROS]")).to_have_count(1)
    admin.context.close()


def test_the_departments_ticked_are_routed_with_the_registration_itself(
    site: Site, browser: Browser, tmp_path: Path
) -> None:
    """Suggested and hand-picked departments, each for its purpose; a refused form keeps them."""
    admin = administration(browser, site)
    add_department(admin, "KOINONIKI", "Τμήμα Κοινωνικής Πολιτικής")
    add_department(admin, "ANAPLASI", "Τμήμα Αναπλάσεων")
    add_rule(admin, "Επιδόματα: ενημέρωση", "επίδομα", "KOINONIKI", purpose="information")
    page = admin
    page.goto(f"{site.base}/register")
    disguised = tmp_path / "αίτηση.pdf"
    disguised.write_text("<html><body>not a PDF</body></html>")
    page.locator("#files").set_input_files(str(disguised))
    page.locator("#subject").fill("Αίτηση για επίδομα θέρμανσης")
    page.locator("#subject").press("Tab")
    expect(page.locator("#suggestions input[name=inform][value=KOINONIKI]")).to_be_checked()
    expect(page.locator("#suggestions")).to_contain_text(
        "Τμήμα Κοινωνικής Πολιτικής (KOINONIKI) — κοινοποίηση"
    )
    page.get_by_text("Χρέωση σε άλλο τμήμα").click()
    page.get_by_label("ANAPLASI · Τμήμα Αναπλάσεων").check()
    page.get_by_role("button", name="Καταχώριση και απόδοση αριθμού").click()

    expect(page.get_by_role("alert")).to_contain_text("αίτηση.pdf")  # refused, nothing numbered
    expect(page.get_by_label("ANAPLASI · Τμήμα Αναπλάσεων")).to_be_checked()
    expect(page.locator("#suggestions input[name=inform][value=KOINONIKI]")).to_be_checked()
    pdf = tmp_path / "επίδομα.pdf"
    pdf.write_bytes(greek_pdf("Αίτηση για επίδομα θέρμανσης"))
    page.locator("#files").set_input_files(str(pdf))
    page.get_by_role("button", name="Καταχώριση και απόδοση αριθμού").click()
    number = page.get_by_test_id("protocol-number").inner_text()
    # Staff read the departments and people by name (the codes beside them).
    timeline = page.locator(".timeline")
    expect(timeline).to_contain_text("Τμήμα Αναπλάσεων (ANAPLASI) — προς ενέργεια")
    expect(timeline).to_contain_text("από Διαχειριστής")
    expect(page.locator("dd").filter(has_text=re.compile(r"· Διαχειριστής$"))).to_be_visible()
    env = clean_env()
    shown = run_cli("show", f"{site.year}/{number.split('/')[0]}", "--json", env=env, cwd=site.root)
    assert shown.returncode == 0, shown.stderr
    routed = [
        (a["department"], a["purpose"], a["created_by"])
        for a in json.loads(shown.stdout)["assignments"]
    ]
    assert routed == [("ANAPLASI", "action", "admin"), ("KOINONIKI", "information", "admin")]
    page.context.close()


def test_a_head_hands_the_department_s_work_to_an_employee(
    site: Site, browser: Browser, tmp_path: Path
) -> None:
    """Each user is offered the steps the library allows them, and no other."""
    admin = administration(browser, site)
    add_department(admin, "POLEODOMIA", "Διεύθυνση Πολεοδομίας")
    admin.get_by_text("Νέο τμήμα").click()
    admin.locator("#d-code").fill("POLEODOMIA.ELEGXOI")
    admin.locator("#d-name").fill("Τμήμα Ελέγχου Κατασκευών")
    admin.locator("#d-parent").select_option("POLEODOMIA")
    admin.get_by_role("button", name="Προσθήκη τμήματος").click()
    add_department(admin, "DIMOTOLOGIO", "Τμήμα Δημοτολογίου")
    for username, name, department, roles in (
        ("stelios.k", "Στέλιος Κουκουράκης", "POLEODOMIA", ("head",)),
        ("anna.v", "Άννα Βλαζάκη", "POLEODOMIA.ELEGXOI", ("staff",)),
        ("petros.x", "Πέτρος Ξυλούρης", "POLEODOMIA.ELEGXOI", ("staff",)),
    ):
        admin.goto(f"{site.base}/admin")
        add_user(admin, username, name, department, roles)
    fill_registration_form(admin, site, tmp_path, "Καταγγελία για αυθαίρετη κατασκευή")
    admin.get_by_text("Χρέωση σε άλλο τμήμα").click()
    admin.get_by_label("POLEODOMIA · Διεύθυνση Πολεοδομίας").check()
    admin.get_by_role("button", name="Καταχώριση και απόδοση αριθμού").click()
    detail = admin.url.split("?")[0]
    admin.context.close()

    # The head routes only within his directorate, and gives the work to an inspector.
    head = browser.new_context(locale="el-GR").new_page()
    log_in(head, site.base, "stelios.k")
    head.goto(detail)
    head.get_by_text("Νέα χρέωση").click()
    expect(head.locator("#department option")).to_have_text(
        ["POLEODOMIA · Διεύθυνση Πολεοδομίας", "POLEODOMIA.ELEGXOI · Τμήμα Ελέγχου Κατασκευών"]
    )
    head.get_by_text("Διαβίβαση σε άλλο τμήμα ή υπάλληλο").click()
    forward = head.locator("details.forward form")
    forward.get_by_label("Τμήμα").select_option("POLEODOMIA.ELEGXOI")
    forward.get_by_label("Υπάλληλος (προαιρετικά)").fill("stelios.k")  # not of that department
    forward.get_by_role("button", name="Διαβίβαση").click()
    expect(head.get_by_role("alert")).to_have_text(
        "Ο χρήστης stelios.k δεν ανήκει στο τμήμα POLEODOMIA.ELEGXOI."
    )
    head.goto(detail)
    expect(head.locator("#staff option[value='anna.v']")).to_have_text(
        "Άννα Βλαζάκη · POLEODOMIA.ELEGXOI"
    )
    head.get_by_text("Διαβίβαση σε άλλο τμήμα ή υπάλληλο").click()
    forward.get_by_label("Τμήμα").select_option("POLEODOMIA.ELEGXOI")
    forward.get_by_label("Υπάλληλος (προαιρετικά)").fill("anna.v")
    forward.get_by_label("Σημείωση").fill("Αυτοψία εντός της εβδομάδας")
    forward.get_by_role("button", name="Διαβίβαση").click()
    steps = head.locator(".timeline > li")
    expect(steps).to_have_count(2)
    expect(steps.nth(0)).to_contain_text("Διεύθυνση Πολεοδομίας (POLEODOMIA)")
    expect(steps.nth(0).locator(".state")).to_have_text("διαβιβάστηκε")
    expect(steps.nth(1)).to_contain_text("Τμήμα Ελέγχου Κατασκευών (POLEODOMIA.ELEGXOI)")
    expect(steps.nth(1)).to_contain_text("Άννα Βλαζάκη")
    expect(steps.nth(1)).to_contain_text("Αυτοψία εντός της εβδομάδας")
    inspect(head, "registration-forwarded")
    head.context.close()

    # Her colleague sees the department's work but no step on it: it is hers.
    colleague = browser.new_context(locale="el-GR").new_page()
    log_in(colleague, site.base, "petros.x")
    row = colleague.locator("section[aria-labelledby=dept] tbody tr")
    expect(row).to_contain_text("αυθαίρετη κατασκευή")
    expect(row.get_by_role("button")).to_have_count(0)
    colleague.goto(detail)
    expect(colleague.locator(".timeline")).to_contain_text("Άννα Βλαζάκη")
    expect(colleague.locator(".timeline button")).to_have_count(0)
    expect(colleague.get_by_text("Νέα χρέωση")).to_have_count(0)
    colleague.context.close()
    admin = administration(browser, site)  # her account's page counts the work in her name
    admin.goto(f"{site.base}/admin/users/anna.v")
    expect(admin.get_by_text("Ανοιχτές χρεώσεις στο όνομά του/της")).to_contain_text(": 1.")
    admin.context.close()

    # She accepts it from her own list, then sends it back: the head who gave it is told.
    anna = browser.new_context(locale="el-GR").new_page()
    log_in(anna, site.base, "anna.v")
    mine = anna.locator("section[aria-labelledby=mine] tbody tr")
    expect(mine).to_contain_text("αυθαίρετη κατασκευή")
    mine.get_by_role("button", name="Παραλαβή").click()
    expect(mine).to_contain_text("σε εξέλιξη")
    expect(anna.locator("#returned")).to_have_count(0)  # she routes nothing
    anna.goto(detail)
    anna.get_by_placeholder("Αιτιολογία επιστροφής").fill("Αφορά αυθαίρετο σε δημόσιο χώρο")
    anna.get_by_role("button", name="Επιστροφή").click()
    expect(anna.locator(".timeline .state").last).to_have_text("επιστράφηκε")
    anna.context.close()

    head = browser.new_context(locale="el-GR").new_page()
    log_in(head, site.base, "stelios.k")
    returned = head.locator("section[aria-labelledby=returned] tbody tr")
    expect(returned).to_have_count(1)
    expect(returned).to_contain_text("αυθαίρετη κατασκευή")
    expect(returned).to_contain_text("Τμήμα Ελέγχου Κατασκευών (POLEODOMIA.ELEGXOI) · Άννα Βλαζάκη")
    expect(returned).to_contain_text("Αφορά αυθαίρετο σε δημόσιο χώρο")
    inspect(head, "inbox-returned")
    returned.get_by_role("link").click()
    head.get_by_text("Νέα χρέωση").click()
    head.locator("#department").select_option("POLEODOMIA")
    head.get_by_role("button", name="Χρέωση", exact=True).click()
    expect(head.locator(".timeline > li")).to_have_count(3)
    head.goto(site.base)
    expect(head.locator("#returned")).to_have_count(0)  # routed again
    head.context.close()


def _sent_twice(page: Page, site: Site, form: str) -> str:
    """Send the page's ``form`` twice at once, as a double click can: one number for both.

    Returns the protocol number both copies led to, having seen that there is no next one.
    """
    landed = page.evaluate(
        """async (form) => {
            const element = document.querySelector(form);
            const data = new FormData(element);
            const send = () => fetch(element.action, {method: "POST", body: data});
            return (await Promise.all([send(), send()])).map((answer) => answer.url);
        }""",
        form,
    )
    assert landed[0] == landed[1], landed  # both at the one registration's page
    page.goto(landed[0])
    number = page.get_by_test_id("protocol-number").inner_text()
    env = clean_env()
    following = f"{site.year}/{int(number.split('/')[0]) + 1}"
    assert "there is no registration" in run_cli("show", following, env=env, cwd=site.root).stderr
    return number


def test_a_registration_form_sent_twice_registers_once(
    site: Site, browser: Browser, tmp_path: Path
) -> None:
    """A double click, or a slow answer clicked again: the browser sends the same form twice."""
    page = administration(browser, site)
    fill_registration_form(page, site, tmp_path, "Αίτηση που στάλθηκε δύο φορές")
    _sent_twice(page, site, "form.register")
    expect(page.locator("main")).to_contain_text("Αίτηση που στάλθηκε δύο φορές")

    # While the answer is on its way, the button waits (and says so); back, it works again.
    fill_registration_form(page, site, tmp_path, "Αίτηση με αργή απάντηση")
    form = page.locator("form.register")
    form.evaluate("form => form.addEventListener('submit', (event) => event.preventDefault())")
    button = page.get_by_role("button", name="Καταχώριση και απόδοση αριθμού")
    button.click()  # sent, as far as the page knows: the answer never comes
    expect(button).to_be_disabled()
    expect(form).to_have_attribute("aria-busy", "true")
    page.evaluate("window.dispatchEvent(new PageTransitionEvent('pageshow', {persisted: true}))")
    expect(button).to_be_enabled()
    expect(form).not_to_have_attribute("aria-busy", "true")
    page.context.close()


def test_a_certificate_form_sent_twice_issues_once(site: Site, browser: Browser) -> None:
    """At the counter too: one certificate, one number, one verification code."""
    page = administration(browser, site)
    page.goto(f"{site.base}/certificates?template=generic")
    page.get_by_label("Ονοματεπώνυμο").fill("Νίκος Τζανακάκης")
    page.get_by_label("Τι βεβαιώνεται").fill("είναι δημότης του Δήμου Χανίων.")
    _sent_twice(page, site, "form[action='/certificates']")
    expect(page.get_by_test_id("verification-code")).not_to_be_empty()
    page.goto(f"{site.base}/statistics")
    by_kind = page.get_by_role("region", name="Βεβαιώσεις ανά είδος").locator("li")
    expect(by_kind.filter(has_text="Βεβαίωση")).to_have_count(1)  # the template's title
    expect(by_kind.filter(has_text="generic")).to_have_count(0)  # not its code
    page.context.close()


def test_an_automatic_rule_is_named_where_it_routed(site: Site, browser: Browser) -> None:
    """Timeline and audit trail name the rule that routed an entry (not ``rule:7``), removed too."""
    admin = administration(browser, site)
    add_department(admin, "AGORES", "Τμήμα Λαϊκών Αγορών")
    add_rule(admin, "Λαϊκές αγορές", "λαϊκή", "AGORES", automatic=True)
    env = clean_env()
    registered = run_cli(
        "register", "--direction", "incoming", "--subject", "Θέση στη λαϊκή αγορά Σούδας",
        env=env, cwd=site.root,
    )  # fmt: skip
    assert registered.returncode == 0, registered.stderr
    number = registered.stdout.strip().split("/")[0]
    entry_page = f"{site.base}/registrations/general/{site.year}/{number}"
    admin.goto(entry_page)
    expect(admin.locator(".timeline")).to_contain_text("από κανόνας «Λαϊκές αγορές»")
    expect(admin.locator("table.audit")).to_contain_text("κανόνας «Λαϊκές αγορές»")
    assert "rule:" not in admin.locator("main").inner_text()
    admin.goto(f"{site.base}/admin")
    admin.get_by_role("button", name="Αφαίρεση κανόνα «Λαϊκές αγορές»").click()
    admin.goto(entry_page)
    expect(admin.locator(".timeline")).to_contain_text("από κανόνας «Λαϊκές αγορές»")
    expect(admin.locator("table.audit")).to_contain_text("κανόνας «Λαϊκές αγορές»")
    admin.context.close()


def test_work_ended_by_a_cancellation_is_said_in_the_inbox(site: Site, browser: Browser) -> None:
    """It left the employee's list without a step of theirs: the inbox says why, for a week."""
    env = clean_env()
    for command in (
        ("department", "add", "PRASINO", "Τμήμα Πρασίνου"),
        ("user", "add", "eleni", "Ελένη Μ.", "--department", "PRASINO", "--role", "staff"),
        ("user", "password", "eleni", "--password", PASSWORD),
        ("register", "--direction", "incoming", "--subject", "Κοπή δέντρου", "--assign", "PRASINO"),
    ):
        done = run_cli(*command, env=env, cwd=site.root)
        assert done.returncode == 0, done.stderr
    number = done.stdout.strip()
    cancelled = run_cli(
        "cancel", number, "--reason", "Διπλή καταχώριση", "--authorisation", "Απόφαση 3",
        env=env, cwd=site.root,
    )  # fmt: skip
    assert cancelled.returncode == 0, cancelled.stderr
    page = browser.new_context(locale="el-GR").new_page()
    log_in(page, site.base, "eleni")
    expect(page.locator("section[aria-labelledby=dept]")).to_contain_text(
        "Το τμήμα δεν έχει ανοιχτές χρεώσεις."
    )
    ended = page.get_by_role("region", name=re.compile("Έληξαν με την ακύρωση της καταχώρισης"))
    expect(ended.locator("tbody tr td")).to_have_text(
        [number, "Κοπή δέντρου", "Τμήμα Πρασίνου (PRASINO)", re.compile(r" · Διαχειριστής$")]
    )
    inspect(page, "inbox-ended-by-cancellation")
    page.context.close()


def test_a_reply_is_registered_from_the_entry_it_answers(site: Site, browser: Browser) -> None:
    """«Καταχώριση απάντησης»: outgoing, related to the entry, addressed to its sender."""
    env = clean_env()
    sender = "Σύλλογος Κατοίκων Χαλέπας"
    added = run_cli("department", "add", "FOTISMOS", "Ηλεκτροφωτισμός", env=env, cwd=site.root)
    assert added.returncode == 0, added.stderr
    asked = run_cli(
        "register", "--direction", "incoming", "--subject", "Αίτημα για φωτισμό",
        "--sender", sender, "--assign", "FOTISMOS", env=env, cwd=site.root,
    )  # fmt: skip
    assert asked.returncode == 0, asked.stderr
    incoming = asked.stdout.strip()
    page = browser.new_context(locale="el-GR").new_page()
    log_in(page, site.base, "admin")
    page.goto(f"{site.base}/registrations/general/{site.year}/{incoming.split('/')[0]}")
    page.get_by_role("link", name="Καταχώριση απάντησης").click()
    expect(page.locator("main")).to_contain_text(f"Απάντηση στο {incoming} — Αίτημα για φωτισμό")
    expect(page.locator("#direction")).to_have_value("outgoing")
    expect(page.locator("#related")).to_have_value(incoming)
    expect(page.locator("#recipients")).to_have_value(sender)
    page.locator("#subject").fill("Απάντηση για τον φωτισμό της Χαλέπας")
    page.locator("#related").fill(f"{incoming}, 999999/{site.year}")  # a mistyped number
    page.get_by_role("button", name="Καταχώριση και απόδοση αριθμού").click()
    expect(page.get_by_role("alert")).to_contain_text(f"999999/{site.year}")
    expect(page.locator("#related")).to_have_value(f"{incoming}, 999999/{site.year}")
    expect(page.locator("main")).to_contain_text(f"Απάντηση στο {incoming} — Αίτημα για φωτισμό")
    page.locator("#related").fill(incoming)
    page.get_by_role("button", name="Καταχώριση και απόδοση αριθμού").click()
    reply = page.get_by_test_id("protocol-number").inner_text()
    inspect(page, "registration-reply")
    page.locator("dl.facts").get_by_role("link", name=incoming).click()
    expect(page.locator("h1")).to_contain_text(incoming)
    expect(page.locator(".subject-line")).to_have_text("Αίτημα για φωτισμό")
    expect(page.locator("dl.facts").get_by_role("link", name=reply)).to_be_visible()

    # The department closes its assignment naming the reply; the timeline links to it.
    page.get_by_role("button", name="Παραλαβή").click()
    page.get_by_label("Αρ. πρωτ. απάντησης (προαιρετικό)").fill(f"999999/{site.year}")
    page.get_by_role("button", name="Ολοκλήρωση").click()  # a reply that does not exist
    expect(page.get_by_role("alert")).to_have_text(
        f"Δεν υπάρχει η καταχώριση 999999/{site.year} που δόθηκε ως απάντηση."
    )
    page.get_by_role("link", name="Πίσω στη σελίδα της φόρμας").click()
    expect(page.locator(".timeline .state")).to_have_text("σε εξέλιξη")
    page.get_by_label("Αρ. πρωτ. απάντησης (προαιρετικό)").fill(reply)
    page.get_by_role("button", name="Ολοκλήρωση").click()
    expect(page.locator(".timeline .state")).to_have_text("ολοκληρώθηκε")
    trail = page.locator("table.audit")
    for step in ("καταχώριση", "χρέωση", "παραλαβή χρέωσης", "ολοκλήρωση χρέωσης"):
        expect(trail.get_by_role("cell", name=step, exact=True)).to_have_count(1)
    page.locator(".timeline").get_by_role("link", name=reply).click()
    expect(page.locator(".subject-line")).to_have_text("Απάντηση για τον φωτισμό της Χαλέπας")
    page.context.close()


def test_a_forgotten_relation_is_added_later_from_the_page(site: Site, browser: Browser) -> None:
    """The reply went out without «Σχετικά»: the protocol office relates it afterwards."""
    env = clean_env()
    numbers = []
    for direction, subject in (("incoming", "Αίτημα για κλάδεμα"), ("outgoing", "Απάντηση")):
        done = run_cli(
            "register", "--direction", direction, "--subject", subject, env=env, cwd=site.root
        )
        assert done.returncode == 0, done.stderr
        numbers.append(done.stdout.strip())
    asked, reply = numbers
    page = browser.new_context(locale="el-GR").new_page()
    log_in(page, site.base, "admin")
    reply_page = f"{site.base}/registrations/general/{site.year}/{reply.split('/')[0]}"
    page.goto(reply_page)
    page.get_by_text("Σχετικά", exact=True).click()  # the form's summary
    page.get_by_label("Σχετικά (αρ. πρωτ.)").fill(asked)
    page.locator("#relate-reason").fill("Ξεχάστηκε στην καταχώριση")
    page.get_by_role("button", name="Αποθήκευση σχετικών").click()
    expect(page.locator("dl.facts").get_by_role("link", name=asked)).to_be_visible()
    expect(page.locator("#corrections-h + ul")).to_contain_text(f"Σχετικά «—» → «{asked}»")
    expect(page.get_by_label("Σχετικά (αρ. πρωτ.)")).to_have_value(asked)
    inspect(page, "registration-related-later")
    secret = run_cli(
        "register", "--direction", "internal", "--subject", "Εμπιστευτικό σημείωμα",
        "--confidential", "--related", asked, env=env, cwd=site.root,
    )  # fmt: skip
    assert secret.returncode == 0, secret.stderr
    page.locator("dl.facts").get_by_role("link", name=asked).click()
    expect(page.locator("dl.facts").get_by_role("link", name=reply)).to_be_visible()
    # A confidential entry naming it is shown to those who may read it (here an admin).
    expect(page.locator("dl.facts").get_by_role("link", name=secret.stdout.strip())).to_be_visible()

    # The earlier entry cannot name the later one: the later names the earlier.
    page.get_by_text("Σχετικά", exact=True).click()
    page.get_by_label("Σχετικά (αρ. πρωτ.)").fill(reply)
    page.locator("#relate-reason").fill("Ανάποδα")
    page.get_by_role("button", name="Αποθήκευση σχετικών").click()
    expect(page.get_by_role("alert")).to_contain_text("καταχωρίστηκε μετά από αυτή")
    page.get_by_role("link", name="Πίσω στη σελίδα της φόρμας").click()
    expect(page.locator("h1")).to_contain_text(asked)
    page.goto(reply_page)
    expect(page.locator("#corrections-h + ul li")).to_have_count(1)
    page.context.close()


def test_dates_alone_list_a_day_s_registrations(site: Site, browser: Browser) -> None:
    """The protocol office's question at the end of the day: what came in today?"""
    env = clean_env()
    subject = "Αίτηση για άδεια χρήσης κοινόχρηστου χώρου στη Σούδα"
    registered = run_cli(
        "register", "--direction", "incoming", "--subject", subject, env=env, cwd=site.root
    )
    assert registered.returncode == 0, registered.stderr
    number = registered.stdout.strip()
    today = datetime.now(ZoneInfo("Europe/Athens")).date().isoformat()
    page = browser.new_context(locale="el-GR").new_page()
    log_in(page, site.base, "admin")
    _wait_for_hits(page, site.base, "κοινόχρηστου")  # the background indexer has it

    page.goto(f"{site.base}/search")
    page.locator("#from").fill(today)
    page.locator("#to").fill(today)
    page.get_by_role("button", name="Αναζήτηση").click()

    first = page.locator(".hit-list li").first
    expect(first).to_contain_text(number)  # the newest first
    expect(first).to_contain_text(subject)
    inspect(page, "search-dates")
    page.locator(".facets a", has_text="Εισερχόμενο").click()  # a facet keeps the dates
    expect(page).to_have_url(re.compile(f"from={today}.*to={today}"))
    expect(page.locator("#from")).to_have_value(today)
    expect(page.locator(".hit-list li").first).to_contain_text(number)
    page.goto(f"{site.base}/search?from={today}&to=2000-01-01")
    expect(page.get_by_role("alert")).to_have_text("Η πρώτη ημέρα είναι μετά την τελευταία.")
    page.context.close()


def test_staff_change_their_own_password_and_admins_reset_a_forgotten_one(
    site: Site, browser: Browser
) -> None:
    admin = administration(browser, site)
    add_department(admin, "PRASINO", "Τμήμα Πρασίνου")
    add_user(admin, "nikos.m", "Νίκος Μαρκάκης", "PRASINO")  # the administrator knows PASSWORD

    nikos = browser.new_context(locale="el-GR").new_page()
    log_in(nikos, site.base, "nikos.m")
    elsewhere = browser.new_context(locale="el-GR").new_page()  # left open in another office
    log_in(elsewhere, site.base, "nikos.m")
    nikos.get_by_role("link", name="Νίκος Μαρκάκης").click()  # his name, top right
    expect(nikos).to_have_url(f"{site.base}/account")
    own = "ο δικός μου κωδικός 2026"

    def change(current: str, new: str, again: str) -> None:
        nikos.locator("#current").fill(current)
        nikos.locator("#new").fill(new)
        nikos.locator("#again").fill(again)
        nikos.get_by_role("button", name="Αλλαγή κωδικού").click()

    change("not his password", own, own)
    expect(nikos.get_by_role("alert")).to_have_text("Ο τρέχων κωδικός δεν είναι σωστός.")
    change(PASSWORD, own, own + "!")
    expect(nikos.get_by_role("alert")).to_have_text("Ο νέος κωδικός και η επανάληψή του διαφέρουν.")
    change(PASSWORD, own, own)
    expect(nikos.get_by_role("status")).to_have_text("Ο κωδικός άλλαξε.")
    inspect(nikos, "account")
    nikos.goto(f"{site.base}/search")  # his own session goes on...
    expect(nikos).to_have_url(f"{site.base}/search")
    elsewhere.goto(f"{site.base}/search")  # ...the one made before the change does not
    expect(elsewhere).to_have_url(re.compile(r"/login\?next=/search$"))
    elsewhere.context.close()
    log_out(nikos)
    nikos.get_by_label("Όνομα χρήστη").fill("nikos.m")
    nikos.get_by_label("Κωδικός πρόσβασης").fill(PASSWORD)  # the one the administrator saw: no more
    nikos.get_by_role("button", name="Σύνδεση").click()
    expect(nikos.get_by_role("alert")).to_have_text("Λάθος όνομα χρήστη ή κωδικός.")
    log_in(nikos, site.base, "nikos.m", own)
    log_out(nikos)

    # He forgets it: the administrator gives him a new one-time password.
    admin.goto(f"{site.base}/admin/users/nikos.m")
    admin.get_by_role("button", name="Νέος κωδικός (αν τον ξέχασε)").click()
    expect(admin.get_by_role("heading", level=1)).to_have_text("Ο κωδικός άλλαξε")
    one_time = admin.get_by_test_id("password").inner_text()
    assert len(one_time) >= 10 and one_time != own
    log_in(nikos, site.base, "nikos.m", one_time)
    api = httpx.post(
        f"{site.base}/api/v1/auth/token", json={"username": "nikos.m", "password": one_time}
    ).json()["access_token"]
    bearer = {"Authorization": f"Bearer {api}"}
    assert httpx.get(f"{site.base}/api/v1/registrations", headers=bearer).status_code == 200
    admin.goto(f"{site.base}/admin/users/nikos.m")  # he forgets it again
    admin.get_by_role("button", name="Νέος κωδικός (αν τον ξέχασε)").click()
    refused = httpx.get(f"{site.base}/api/v1/registrations", headers=bearer)
    assert refused.status_code == 401 and "password has changed" in refused.text
    nikos.goto(f"{site.base}/")
    expect(nikos).to_have_url(re.compile(r"/login"))
    admin.context.close()
    nikos.context.close()


def test_a_digest_s_links_open_the_registrations(site: Site, browser: Browser) -> None:
    """A department's daily email, sent by the command line: each link opens its entry."""
    today = datetime.now(ZoneInfo("Europe/Athens")).date()
    tomorrow = (today + timedelta(days=1)).isoformat()
    sink = MailSink().start()
    try:
        env = {
            **clean_env(),
            "EPROTOCOL_PUBLIC_URL": site.base,
            "EPROTOCOL_SMTP_URL": f"smtp://127.0.0.1:{sink.port}",
        }
        for args in (
            ("department", "add", "ΠΟΛΕΟΔ", "Πολεοδομία", "--digest-email", "poleod@chania.gr"),
            ("register", "--direction", "incoming", "--subject", "Αυθαίρετο", "--assign", "ΠΟΛΕΟΔ"),
            ("digest", "send", "--date", tomorrow),  # a morning's digest lists the day before
        ):
            done = run_cli(*args, env=env, cwd=site.root)
            assert done.returncode == 0, done.stderr
            if args[0] == "register":
                number = done.stdout.strip()
        (message,) = [m for to, m in sink.messages if to == ["poleod@chania.gr"]]
    finally:
        sink.stop()
    text = message.get_body(preferencelist=("plain",))
    assert text is not None
    (link,) = re.findall(r"https?://\S+", text.get_content())
    assert link.startswith(site.base)
    page = browser.new_context(locale="el-GR").new_page()
    log_in(page, site.base, "admin")
    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Αρ. πρωτ. {number}")
    expect(page.locator("main")).to_contain_text("Αυθαίρετο")
    page.context.close()


def test_a_search_says_so_while_the_index_is_rebuilt(browser: Browser, tmp_path: Path) -> None:
    """A lost index, or one never built, finds nothing: staff are told why, not just «0»."""
    env = clean_env()
    env["EPROTOCOL_BACKGROUND_JOBS"] = "0"  # no worker here to rebuild it
    servers = serve(tmp_path, env, "--admin-password", PASSWORD)
    base = next(servers)
    try:
        subject = "Αίτηση για κλάδεμα δέντρων στη Νέα Χώρα"
        registered = run_cli(
            "register", "--direction", "incoming", "--subject", subject, env=env, cwd=tmp_path
        )
        assert registered.returncode == 0, registered.stderr
        page = browser.new_context(locale="el-GR").new_page()
        log_in(page, base, "admin")
        api = httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {login(base, 'admin', PASSWORD)}"}
        )

        def searched(*, complete: bool, total: int) -> None:
            answer = api.get("/api/v1/search", params={"q": "κλάδεμα"}).json()
            assert (answer["complete"], answer["total"]) == (complete, total)
            readiness = api.get("/ready")  # still ready: registration does not need the index
            assert readiness.status_code == 200
            assert readiness.json()["search_index"] == ("ready" if complete else "rebuilding")
            page.goto(f"{base}/search?q=κλάδεμα")
            expect(page.get_by_test_id("total")).to_have_text(str(total))
            notice = page.get_by_test_id("incomplete")
            if complete:
                expect(notice).to_have_count(0)
            else:
                expect(notice).to_have_text(re.compile("ευρετήριο αναζήτησης ξαναφτιάχνεται"))
            cli = run_cli("search", "κλάδεμα", env=env, cwd=tmp_path)
            assert cli.returncode == 0, cli.stderr
            assert ("being rebuilt" in cli.stderr) is not complete

        searched(complete=False, total=0)  # a new archive's index, which no worker has built
        inspect(page, "search-rebuilding")
        assert run_cli("reindex", env=env, cwd=tmp_path).returncode == 0
        searched(complete=True, total=1)
        shutil.rmtree(tmp_path / "var" / "index")  # lost under the running server
        searched(complete=False, total=0)
        assert run_cli("reindex", env=env, cwd=tmp_path).returncode == 0
        searched(complete=True, total=1)
        page.context.close()
        api.close()
    finally:
        next(servers, None)


def test_the_filing_plan_is_loaded_and_grown_on_the_administration_page(
    site: Site, browser: Browser, tmp_path: Path
) -> None:
    """A spreadsheet with a mistake adds nothing and says which line; the plan is then used."""
    admin = administration(browser, site)
    plan = admin.locator("#plan")
    lines = ["code;title;retention_years;disposal", "Φ.600;Οδοποιία;10;transfer"]

    def load(rows: list[str]) -> None:
        if not admin.locator("#c-plan").is_visible():  # open already after a refusal
            admin.get_by_text("Φόρτωση από αρχείο CSV").click()
        admin.locator("#c-plan").set_input_files(
            {"name": "σχέδιο.csv", "mimeType": "text/csv", "buffer": "\n".join(rows).encode()}
        )
        admin.get_by_role("button", name="Φόρτωση", exact=True).click()

    load([*lines, "Φ.601;Πεζοδρόμια;δέκα;destroy"])
    expect(plan.get_by_role("alert")).to_have_text(
        "Γραμμή 3: Διατήρηση (έτη): ακέραιος αριθμός από 1 έως 200."
    )
    expect(plan.locator("tbody")).not_to_contain_text("Οδοποιία")  # nothing of the file
    load(lines)
    expect(plan.locator("tbody tr").filter(has_text="Φ.600")).to_have_text(
        re.compile(r"Φ\.600\s*Οδοποιία\s*10\s*παράδοση στα ΓΑΚ")
    )

    admin.get_by_text("Νέα θέση").click()
    admin.locator("#c-code").fill("Φ.600")
    admin.locator("#c-title").fill("Οδοποιία και πεζοδρόμια")
    admin.locator("#c-years").fill("15")
    admin.get_by_role("button", name="Προσθήκη θέσης").click()
    expect(plan.get_by_role("alert")).to_contain_text("έχει ήδη τη θέση 'Φ.600' («Οδοποιία»")
    expect(admin.locator("#c-title")).to_have_value("Οδοποιία και πεζοδρόμια")
    inspect(admin, "admin-filing-plan")
    admin.locator("#c-code").fill("Φ.610")
    admin.locator("#c-disposal").select_option("destroy")
    admin.get_by_role("button", name="Προσθήκη θέσης").click()
    expect(plan.locator("tbody tr").filter(has_text="Φ.610")).to_contain_text("καταστροφή")

    # A typo in a title is corrected; the retention stays (an empty title is refused, kept).
    admin.get_by_text("Διόρθωση τίτλου θέσης").click()
    admin.locator("#t-code").select_option("Φ.600")
    admin.locator("#t-title").fill(" ")
    admin.locator("#t-title").evaluate("input => input.required = false")  # as if sent by hand
    admin.get_by_role("button", name="Διόρθωση τίτλου", exact=True).click()
    expect(plan.get_by_role("alert")).to_contain_text("Τίτλος")
    expect(admin.locator("#t-code")).to_have_value("Φ.600")
    admin.locator("#t-title").fill("Οδοποιία και οδική ασφάλεια")
    admin.get_by_role("button", name="Διόρθωση τίτλου", exact=True).click()
    expect(plan.locator("tbody tr").filter(has_text="Φ.600")).to_have_text(
        re.compile(r"Φ\.600\s*Οδοποιία και οδική ασφάλεια\s*10\s*παράδοση στα ΓΑΚ")
    )

    # A routing rule on the new heading, for a department the form names in full.
    add_department(admin, "ARCHIVE", "Τμήμα Αρχείου")
    admin.get_by_text("Νέος κανόνας").click()
    admin.locator("#r-name").fill("Οδοποιία στο αρχείο")
    admin.locator("#r-class").select_option(label="Φ.610 · Οδοποιία και πεζοδρόμια")
    admin.locator("#r-dept").select_option(label="ARCHIVE · Τμήμα Αρχείου")
    admin.get_by_role("button", name="Προσθήκη κανόνα").click()
    rule = admin.locator("#rules tbody tr").filter(has_text="Οδοποιία στο αρχείο")
    expect(rule).to_contain_text("Φ.610")

    fill_registration_form(admin, site, tmp_path, "Αποκατάσταση πεζοδρομίου")
    expect(admin.locator("#classification_code")).to_contain_text("Φ.610 · Οδοποιία και πεζοδρόμια")
    admin.locator("#classification_code").select_option("Φ.610")
    admin.get_by_role("button", name="Καταχώριση και απόδοση αριθμού").click()
    heading = admin.get_by_test_id("heading")
    expect(heading).to_have_text(
        "Φ.610 · Οδοποιία και πεζοδρόμια (διατήρηση 15 έτη, έπειτα καταστροφή)"
    )
    # Refiled from its page under another heading, with the reason kept among the corrections.
    admin.locator("summary", has_text="Θέμα αρχειοθέτησης").click()
    expect(admin.locator("#heading")).to_have_value("Φ.610")
    admin.locator("#heading").select_option("Φ.600")
    admin.locator("#heading-reason").fill("Αφορά οδική ασφάλεια")
    admin.get_by_role("button", name="Αποθήκευση θέματος").click()
    expect(heading).to_contain_text("Φ.600 · Οδοποιία και οδική ασφάλεια (διατήρηση 10 έτη")
    expect(admin.get_by_role("region", name="Διορθώσεις")).to_contain_text(
        "«Φ.610» → «Φ.600» (Αφορά οδική ασφάλεια)"
    )
    inspect(admin, "registration-refiled")
    # Search counts the matches by heading, named in full; choosing one narrows to it.
    _wait_for_hits(admin, site.base, "πεζοδρομίου&classification=Φ.600")  # refiled in the index
    admin.goto(f"{site.base}/search?q=πεζοδρομίου")
    facet = admin.locator("[data-facet=classification] a")
    expect(facet).to_have_text(["Φ.600 · Οδοποιία και οδική ασφάλεια"])
    facet.click()
    expect(admin).to_have_url(re.compile(r"classification=%CE%A6\.600"))
    expect(facet).to_have_attribute("aria-current", "true")
    expect(admin.locator(".hit-list li")).to_have_count(1)
    inspect(admin, "search-by-heading")
    admin.goto(f"{site.base}/statistics")
    by_heading = admin.get_by_role("region", name="Καταχωρίσεις ανά θέμα αρχειοθέτησης")
    expect(by_heading).to_contain_text("Φ.600 · Οδοποιία και οδική ασφάλεια")

    # The end of retention, for the archive committee: nothing yet; in ten years, the entry.
    admin.goto(f"{site.base}/admin")
    admin.get_by_role("link", name=re.compile("Εκκαθάριση αρχείου")).click()
    expect(admin.get_by_role("region", name="Εκκαθάριση αρχείου").locator("tbody")).to_contain_text(
        "Καμία καταχώριση δεν έφτασε ακόμη"
    )
    admin.locator("#on").fill(f"{site.year + 11}-01-01")
    admin.get_by_role("button", name="Εμφάνιση").click()
    row = (
        admin.get_by_role("region", name="Εκκαθάριση αρχείου")
        .locator("tbody tr")
        .filter(has_text="Φ.600")
    )
    expect(row.locator("td")).to_have_text(
        [
            str(site.year),
            "Φ.600 · Οδοποιία και οδική ασφάλεια",
            "παράδοση στα ΓΑΚ",
            "1",
            re.compile(r"^1 · \d+,\d KB$"),  # one file, its size as Greek writes it
            re.compile(rf"/{site.year + 10} "),
        ]
    )
    inspect(admin, "admin-disposal")
    since, on = admin.locator("#since").bounding_box(), admin.locator("#on").bounding_box()
    assert since and on and since["y"] == on["y"], (since, on)  # side by side, not full width
    with admin.expect_download() as listed:
        admin.get_by_role("link", name="Λήψη καταλόγου καταχωρίσεων (CSV)").click()
    rows = list(csv.reader(io.StringIO(Path(listed.value.path()).read_text("utf-8-sig"))))
    assert [r[2:5] for r in rows if r[2] == "Φ.600"] == [
        ["Φ.600", "Οδοποιία και οδική ασφάλεια", "transfer"]
    ]
    # The committee's next list starts the day after this one: the entry is not given again.
    admin.locator("#since").fill(f"{site.year + 11}-01-02")
    admin.get_by_role("button", name="Εμφάνιση").click()
    expect(admin).to_have_url(re.compile(rf"since={site.year + 11}-01-02"))
    expect(admin.locator("#since")).to_have_value(f"{site.year + 11}-01-02")
    expect(admin.get_by_role("region", name="Εκκαθάριση αρχείου").locator("tbody")).to_contain_text(
        "Καμία καταχώριση δεν έφτασε ακόμη"
    )
    admin.locator("#since").fill(f"{site.year + 12}-01-01")  # after the last day: refused
    admin.get_by_role("button", name="Εμφάνιση").click()
    expect(admin.get_by_role("alert")).to_contain_text("Η πρώτη ημέρα είναι μετά την τελευταία.")
    # The committee decides on the list: it is recorded, and the next list starts after it.
    admin.goto(f"{site.base}/admin/disposal?on={site.year + 11}-01-01")
    expect(admin.get_by_role("cell", name="Καμία απόφαση ακόμη.")).to_be_visible()
    other = admin.context.new_page()  # another administrator's, open on the same list
    other.goto(admin.url)
    shown = admin.get_by_role("region", name="Εκκαθάριση αρχείου").locator("tbody tr")
    counts = [int(n.split()[0]) for n in shown.locator("td:nth-child(4)").all_inner_texts()]
    admin.locator("#reference").fill(f"Πρακτικό 1/{site.year + 11}")
    admin.get_by_role("button", name="Καταχώριση της απόφασης").click()
    expect(admin).to_have_url(re.compile(rf"since={site.year + 11}-01-02"))
    decision = admin.get_by_role("region", name="Αποφάσεις της επιτροπής").locator("tbody tr")
    expect(decision.locator("td")).to_have_text(
        [
            f"Πρακτικό 1/{site.year + 11}",
            datetime.now(ZoneInfo("Europe/Athens")).strftime("%d/%m/%Y"),
            f"Έως 01/01/{site.year + 11}",
            f"{sum(counts)} · ομάδες: {len(counts)}",  # the list as it stood
            re.compile(r" · Διαχειριστής$"),
        ]
    )
    inspect(admin, "admin-disposal-decided")
    other.locator("#reference").fill(f"Πρακτικό 2/{site.year + 11}")  # the same list, later
    other.get_by_role("button", name="Καταχώριση της απόφασης").click()
    expect(other.get_by_role("alert")).to_have_text(
        f"Η απόφαση «Πρακτικό 1/{site.year + 11}» της επιτροπής καλύπτει έως τις "
        f"01/01/{site.year + 11}: ο νέος κατάλογος αρχίζει στις 02/01/{site.year + 11}."
    )
    expect(other.locator("#reference")).to_have_value(f"Πρακτικό 2/{site.year + 11}")
    other.get_by_test_id("next-list").click()
    expect(other.locator("#since")).to_have_value(f"{site.year + 11}-01-02")
    # A list the committee has decided on, looked at again, says so and offers no decision.
    admin.goto(f"{site.base}/admin/disposal?on={site.year + 11}-01-01")
    expect(admin.get_by_test_id("not-the-next-list")).to_have_text(
        f"Αυτός ο κατάλογος αρχίζει πριν από το τέλος της απόφασης «Πρακτικό 1/{site.year + 11}» "
        f"(01/01/{site.year + 11}): όσα έληξαν ως τότε τα έχει ήδη κρίνει η επιτροπή. "
        "Νέα απόφαση καταχωρίζεται για τον επόμενο κατάλογο."
    )
    expect(admin.get_by_role("button", name="Καταχώριση της απόφασης")).to_have_count(0)
    inspect(admin, "admin-disposal-already-decided")
    # In English the plan's code is a code (the Greek word also means a password).
    admin.goto(f"{site.base}/admin?lang=en")
    expect(admin.locator("#plan thead")).to_have_text(
        re.compile(r"Code\s*Title\s*Retention \(years\)\s*At the end")
    )
    expect(admin.locator("#departments thead")).to_contain_text("Code")
    admin.context.close()


def test_a_document_registered_twice_is_pointed_out_on_its_page(
    site: Site, browser: Browser, tmp_path: Path
) -> None:
    scan = tmp_path / "σάρωση.pdf"
    scan.write_bytes(greek_pdf("Αίτηση που ήρθε και με email και στο γκισέ"))
    numbers = []
    for channel in ("email", "counter"):
        registered = run_cli(
            "register",
            str(scan),
            "--direction",
            "incoming",
            "--subject",
            "Αίτηση",
            "--channel",
            channel,
            env=clean_env(),
            cwd=site.root,
        )
        assert registered.returncode == 0, registered.stderr
        numbers.append(registered.stdout.strip())
    page = administration(browser, site)
    first, second = (n.split("/")[0] for n in numbers)
    page.goto(f"{site.base}/registrations/general/{site.year}/{second}")
    notice = page.get_by_test_id("same-document")
    expect(notice).to_have_text(
        f"Το ίδιο κύριο έγγραφο, πανομοιότυπο, έχει καταχωριστεί και ως {numbers[0]}. "
        "Αν πρόκειται για διπλή καταχώριση, ακυρώστε τη νεότερη."
    )
    inspect(page, "registration-same-document")
    notice.get_by_role("link", name=numbers[0]).click()
    expect(page.get_by_test_id("same-document")).to_contain_text(numbers[1])
    assert page.url.endswith(f"/registrations/general/{site.year}/{first}")
    page.context.close()


def test_administrators_are_told_before_the_signing_certificate_expires(
    browser: Browser, tmp_path: Path
) -> None:
    """A month ahead: on every page of theirs, at the server's start; staff are not bothered."""
    env = clean_env()
    place_signing_key(tmp_path, valid_days=10)
    servers = serve(tmp_path, env, "--admin-password", PASSWORD)
    base = next(servers)
    try:
        started = (tmp_path / "server.log").read_text()
        assert "WARNING: the signing certificate of 'Δήμος Χανίων (ΔΟΚΙΜΑΣΤΙΚΟ)' expires on " in (
            started
        )
        assert "in 9 days: install the renewed one" in started
        page = browser.new_context(locale="el-GR").new_page()
        log_in(page, base, "admin")
        alert = page.get_by_role("alert")
        expect(alert).to_contain_text("Το πιστοποιητικό υπογραφής λήγει στις")
        alert.get_by_role("link", name="Υπογραφή εγγράφων").click()
        expect(page.locator("#signing")).to_contain_text(
            "Υπογράφει: Δήμος Χανίων (ΔΟΚΙΜΑΣΤΙΚΟ) · το πιστοποιητικό ισχύει έως"
        )
        inspect(page, "admin-signing-expires")
        add_department(page, "KEP", "ΚΕΠ")
        add_user(page, "eleni", "Ελένη Σταυράκη", "KEP")
        log_out(page)
        log_in(page, base, "eleni")
        expect(page.get_by_text("Το πιστοποιητικό υπογραφής")).to_have_count(0)
        page.context.close()
    finally:
        next(servers, None)


def test_files_larger_than_the_server_takes_are_not_sent(
    site: Site, browser: Browser, tmp_path: Path
) -> None:
    """Said before a long upload, and with what was typed kept; refused anyway without script."""
    page = browser.new_context(locale="el-GR").new_page()
    log_in(page, site.base, "admin")
    page.goto(f"{site.base}/register")
    subject = "Σαρωμένος φάκελος οικοδομικής άδειας"
    page.locator("#subject").fill(subject)
    scan = tmp_path / "φάκελος.pdf"
    scan.write_bytes(make_pdf(1) + bytes(51 * 1024 * 1024))  # over the default 50 MB
    page.locator("#files").set_input_files(scan)
    warning = page.locator("[data-too-large-warning]")
    expect(warning).to_have_text("Τα αρχεία είναι συνολικά 52 MB· η υπηρεσία δέχεται έως 50 MB.")
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url) if r.url == f"{site.base}/register" else None)
    page.get_by_role("button", name="Καταχώριση και απόδοση αριθμού").click()
    expect(warning).to_be_focused()
    assert sent == []
    expect(page.locator("#subject")).to_have_value(subject)
    inspect(page, "register-too-large")

    page.evaluate("document.querySelector('form.register').submit()")  # as without the script
    expect(page.get_by_role("heading", level=1)).to_have_text("Τα αρχεία είναι πολύ μεγάλα")
    expect(page.get_by_role("alert")).to_have_text(
        "Τα αρχεία ξεπερνούν τα 50 MB που δέχεται η υπηρεσία."
    )

    page.goto(f"{site.base}/register")
    page.locator("#files").set_input_files(scan)
    page.locator("#files").set_input_files([])  # chosen again, within the limit
    expect(warning).to_be_hidden()
    page.context.close()


def test_a_malformed_address_gets_the_error_page_not_json(site: Site, browser: Browser) -> None:
    """Litestar's own refusals on a page (here a negative offset) are pages too."""
    page = browser.new_context(locale="el-GR").new_page()
    log_in(page, site.base, "admin")
    answer = page.goto(f"{site.base}/search?q=άδεια&offset=-20")
    assert answer is not None and answer.status == 400
    expect(page.get_by_role("heading", level=1)).to_have_text("Τα στοιχεία δεν είναι σωστά")
    expect(page.get_by_role("alert")).to_have_count(0)  # not Litestar's English for developers
    inspect(page, "malformed-address")
    page.context.close()


def test_an_address_the_pages_never_make_is_refused_in_greek(
    site: Site, browser: Browser, tmp_path: Path
) -> None:
    """A hand-typed address (a file the entry lacks) gets a refusal in the page's language."""
    page = administration(browser, site)
    fill_registration_form(page, site, tmp_path, "Αίτηση με ένα μόνο αρχείο")
    page.get_by_role("button", name="Καταχώριση και απόδοση αριθμού").click()
    number = page.get_by_test_id("protocol-number").inner_text()
    answer = page.goto(page.url.split("?")[0] + "/files/999999/pages/1")
    assert answer is not None and answer.status == 404
    expect(page.get_by_role("alert")).to_have_text(f"Η καταχώριση {number} δεν έχει αρχείο 999999.")
    page.context.close()
