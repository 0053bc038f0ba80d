"""Certificates, sealed outgoing documents, verification and incoming signatures (issue #6)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import hashlib
import io
import re
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import zxingcpp
from asn1crypto import keys as asn1_keys
from asn1crypto import tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from PIL import Image
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.generic import NameObject
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import signers
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext
from pypdf import PdfReader, PdfWriter

from eprotocol import (
    Archive,
    ArchiveConfig,
    Direction,
    FileInput,
    FileRole,
    NewRegistration,
    Registration,
    Role,
)
from eprotocol.config import SigningConfig
from eprotocol.core.certificates import VerificationStatus, normalise_code
from eprotocol.core.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    SigningUnavailable,
)
from eprotocol.core.models import SEAL
from eprotocol.pdf.signing import PadesSigner, create_development_identity
from tests.conftest import ORGANISATION
from tests.pdfs import greek_pdf
from tests.support import FixedClock, our_root

CITIZEN = {
    "full_name": "Γεώργιος Παπαδάκης",
    "father_name": "Ιωάννης",
    "birth_date": "1980-03-04",
    "afm": "090000045",
    "address": "Χάληδων 12, Χανιά",
}


@pytest.fixture
def issuing(config: ArchiveConfig, signing: SigningConfig, clock: FixedClock) -> Iterator[Archive]:
    """An archive with a signing key, a counter employee (issuer) and a member of staff."""
    with Archive(dataclasses.replace(config, signing=signing), clock=clock) as archive:
        archive.initialise(organisation=ORGANISATION)
        archive.add_department("KEP", "ΚΕΠ", by="admin")
        archive.add_user("kep", "Υπάλληλος ΚΕΠ", department="KEP", roles=[Role.ISSUER], by="admin")
        archive.add_user("staff", "Υπάλληλος", department="KEP", roles=[Role.STAFF], by="admin")
        yield archive


def _bytes(archive: Archive, entry_ref: tuple[str, int, int], file_id: int) -> bytes:
    _, stream = archive.read_file(*entry_ref, file_id)
    return b"".join(stream)


def _main_pdf(archive: Archive, **fields: str) -> tuple[Registration, bytes]:
    entry = archive.issue_certificate("permanent-residence", {**CITIZEN, **fields}, by="kep")
    return entry, _bytes(archive, (entry.book, entry.year, entry.number), entry.files[0].id)


def _qr_texts(pdf: bytes, tmp_path: Path) -> list[str]:
    """Render page 1 with pdftoppm (as a reader would see it) and decode its QR codes."""
    source = tmp_path / "page.pdf"
    source.write_bytes(pdf)
    subprocess.run(
        [
            "pdftoppm",
            "-r",
            "110",
            "-png",
            "-singlefile",
            "-f",
            "1",
            str(source),
            str(tmp_path / "p"),
        ],
        check=True,
        timeout=60,
    )
    return [r.text for r in zxingcpp.read_barcodes(Image.open(tmp_path / "p.png"))]


def test_a_certificate_is_a_signed_greek_pdf_whose_qr_leads_to_its_verification(
    issuing: Archive, signing: SigningConfig, tmp_path: Path
) -> None:
    entry, pdf = _main_pdf(issuing)
    assert entry.direction == "outgoing"
    assert entry.protocol_number == "1/2026"
    assert entry.subject == "Βεβαίωση μόνιμης κατοικίας"
    assert entry.recipients == ("Γεώργιος Παπαδάκης",)
    code = entry.verification_code
    assert code is not None and normalise_code(code) == code
    assert entry.files[0].sha256 == hashlib.sha256(pdf).hexdigest()

    text = PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    for expected in (
        "ΒΕΒΑΙΩΣΗ ΜΟΝΙΜΗΣ ΚΑΤΟΙΚΙΑΣ",
        "Γεώργιος Παπαδάκης, με όνομα πατέρα Ιωάννης,",  # not «του Ιωάννης»: typed as on the ID
        "04/03/1980",
        "Αρ. πρωτ.: 1/2026",
        ORGANISATION,
        code,
    ):
        assert expected in text

    (embedded,) = PdfFileReader(io.BytesIO(pdf)).embedded_signatures
    status = validate_pdf_signature(
        embedded, ValidationContext(trust_roots=[our_root(signing)], allow_fetching=False)
    )
    assert status.bottom_line, status.summary()

    assert _qr_texts(pdf, tmp_path) == [f"http://127.0.0.1:8000/verify/{code}"]
    # The entry's file says it is signed, as an upload's signatures are reported.
    (check,) = entry.files[0].signatures
    assert check.ours and check.trusted and check.covers_whole_file
    assert (
        check.standing == "ok" and check.signer == our_root(signing).subject.native["common_name"]
    )


def test_verification_by_code_tells_public_facts_and_follows_cancellation(
    issuing: Archive,
) -> None:
    entry, pdf = _main_pdf(issuing)
    code = entry.verification_code
    assert code is not None
    # As a citizen types it: lower case, spaces, and Greek capitals that look Latin.
    typed = code.lower().replace("-", " ").replace("a", "α").replace("e", "ε")
    found = issuing.verify_code(typed)
    assert found.status is VerificationStatus.VALID
    assert found.protocol_number == "1/2026"
    assert found.title == "Βεβαίωση μόνιμης κατοικίας"
    assert found.issuer == ORGANISATION
    assert found.sha256 == hashlib.sha256(pdf).hexdigest()
    assert "Παπαδάκης" not in repr(found) and "090000045" not in repr(found)

    issuing.cancel(
        "general", 2026, 1, reason="Λάθος στοιχεία", authorisation="Πράξη 3/2026", by="admin"
    )
    cancelled = issuing.verify_code(code)
    assert cancelled.status is VerificationStatus.CANCELLED
    assert cancelled.cancelled_at is not None
    after = issuing.verify_pdf(pdf)
    assert after.identical and not after.authentic
    assert after.document.status is VerificationStatus.CANCELLED

    assert issuing.verify_code("2222-3333-4444-5555").status is VerificationStatus.UNKNOWN
    with pytest.raises(InvalidInput):
        issuing.verify_code("0000-OOOO-1111-IIII")


def _append_update(pdf: bytes) -> bytes:
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    writer.root["/PageLayout"] = NameObject("/TwoColumnLeft")
    writer.update_root()  # type: ignore[no-untyped-call]
    out = io.BytesIO()
    writer.write(out)  # type: ignore[no-untyped-call]
    return out.getvalue()


def _signed_over_ours(pdf: bytes, p12: bytes, password: bytes) -> bytes:
    """``pdf`` with another key's signature over the very bytes our signature covers.

    Its ``/ByteRange`` is ours, so it holds as well as ours does: only the
    certificate tells the two apart.
    """
    (ours,) = PdfFileReader(io.BytesIO(pdf)).embedded_signatures
    signer = signers.SimpleSigner.load_pkcs12_data(p12, (), passphrase=password)
    cms = asyncio.run(signer.async_sign(ours.compute_digest("sha256"), "sha256")).dump()
    start, first, second, rest = (int(v) for v in ours.byte_range)
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    name, number = NameObject, generic.NumberObject
    byte_range = generic.ArrayObject(number(v) for v in (start, first, second, rest))  # type: ignore[no-untyped-call]
    contents = generic.ByteStringObject(cms.ljust((second - first - 2) // 2, b"\0"))
    signature = generic.DictionaryObject(  # type: ignore[no-untyped-call]
        {
            name("/Type"): name("/Sig"),
            name("/Filter"): name("/Adobe.PPKLite"),
            name("/SubFilter"): name("/ETSI.CAdES.detached"),
            name("/ByteRange"): byte_range,
            name("/Contents"): contents,
        }
    )
    field = generic.DictionaryObject(  # type: ignore[no-untyped-call]
        {
            name("/FT"): name("/Sig"),
            name("/T"): generic.TextStringObject("another"),
            name("/V"): writer.add_object(signature),
            name("/Type"): name("/Annot"),
            name("/Subtype"): name("/Widget"),
            name("/Rect"): generic.ArrayObject([number(0)] * 4),  # type: ignore[no-untyped-call]
        }
    )
    form = writer.root["/AcroForm"]
    form["/Fields"].append(writer.add_object(field))
    writer.update_container(form)
    out = io.BytesIO()
    writer.write(out)  # type: ignore[no-untyped-call]
    return out.getvalue()


def _flip_one_byte(pdf: bytes) -> bytes:
    changed = bytearray(pdf)
    spot = pdf.index(b"stream") + 40
    changed[spot] ^= 0x01
    return bytes(changed)


def _resave(pdf: bytes) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _strip_signature(pdf: bytes) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    del writer._root_object["/AcroForm"]
    for page in writer.pages:
        if "/Annots" in page:
            del page["/Annots"]
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        (_append_update, "μετά την ψηφιακή υπογραφή"),
        (_flip_one_byte, "δεν είναι έγκυρη"),
        (_resave, "πανομοιότυπο"),
        (_strip_signature, "δεν φέρει ψηφιακή υπογραφή"),
    ],
)
def test_a_modified_copy_is_not_authentic_and_says_why(
    issuing: Archive, tamper: object, reason: str
) -> None:
    _, pdf = _main_pdf(issuing)
    original = issuing.verify_pdf(pdf)
    assert original.authentic and original.identical and not original.reasons
    assert original.document.protocol_number == "1/2026"

    assert callable(tamper)
    result = issuing.verify_pdf(tamper(pdf))
    assert not result.authentic
    assert not result.identical
    assert any(reason in r for r in result.reasons), result.reasons


def test_an_update_appended_after_signing_is_traced_to_the_issued_document(
    issuing: Archive,
) -> None:
    _, pdf = _main_pdf(issuing)
    result = issuing.verify_pdf(_append_update(pdf))
    assert result.document.protocol_number == "1/2026"
    (ours,) = result.signatures
    assert ours.intact and not ours.covers_whole_file


def test_documents_signed_before_the_certificate_was_renewed_stay_authentic(
    config: ArchiveConfig, signing: SigningConfig, clock: FixedClock, tmp_path: Path
) -> None:
    """A citizen's certificate of last year is checked after the organisation's key changed."""
    with Archive(dataclasses.replace(config, signing=signing), clock=clock) as before:
        before.initialise(organisation=ORGANISATION)
        before.add_user("kep", "Υπάλληλος ΚΕΠ", roles=[Role.ISSUER], by="admin")
        entry, pdf = _main_pdf(before)
    renewed = tmp_path / "renewed.p12"
    create_development_identity(renewed, b"new-password", ORGANISATION)
    new_key = SigningConfig(p12_path=renewed, password=b"new-password")
    with Archive(dataclasses.replace(config, signing=new_key), clock=clock) as after:
        result = after.verify_pdf(pdf)
        assert result.authentic and not result.reasons, result.reasons
        (signature,) = result.signatures
        assert signature.ours and signature.trusted
        assert result.document.protocol_number == entry.protocol_number
        appended = after.verify_pdf(_append_update(pdf))
        assert not appended.authentic
        assert appended.document.protocol_number == entry.protocol_number  # traced to it
        assert appended.reasons == (
            f"Το αρχείο δεν είναι πανομοιότυπο με κανένα έγγραφο που εκδόθηκε (προέρχεται από "
            f"το {entry.protocol_number}, αλλά έχει αλλοιωθεί).",
            "Προστέθηκαν αλλαγές στο αρχείο μετά την ψηφιακή υπογραφή.",
        )
        assert [c.ours for c in appended.signatures] == [True]
        foreign = tmp_path / "foreign.p12"  # anyone can make a key in the same name
        create_development_identity(foreign, b"x", ORGANISATION)
        signed_again = io.BytesIO()
        signers.sign_pdf(
            IncrementalPdfFileWriter(io.BytesIO(pdf)),
            signers.PdfSignatureMetadata(field_name="another"),
            signer=signers.SimpleSigner.load_pkcs12_data(foreign.read_bytes(), (), passphrase=b"x"),
            output=signed_again,
        )
        countersigned = after.verify_pdf(signed_again.getvalue())
        assert not countersigned.authentic
        assert [c.ours for c in countersigned.signatures] == [True, False]
        forged = after.verify_pdf(_signed_over_ours(pdf, foreign.read_bytes(), b"x"))
        assert not forged.authentic
        assert [(c.field, c.intact, c.ours) for c in forged.signatures] == [
            ("eprotocol-seal", True, True),
            ("another", True, False),  # it covers our document as well, but is not ours
        ]


def test_garbage_is_reported_not_raised(issuing: Archive) -> None:
    result = issuing.verify_pdf(b"not a pdf at all")
    assert not result.authentic and result.reasons


class _BrokenSigner:
    """Loads fine, fails when asked to sign (a timestamp server that is down, say)."""

    def __init__(self, real: PadesSigner) -> None:
        self._real = real
        self.signer_name = real.signer_name
        self.certificate_pem = real.certificate_pem
        self.trust_roots_pem = real.trust_roots_pem
        self.check_issued = real.check_issued
        self.check_available = real.check_available
        self.valid_until = real.valid_until

    def sign(self, pdf: bytes) -> bytes:
        raise SigningUnavailable("the timestamp server does not answer")


def test_a_failed_signature_records_nothing_and_uses_no_number(
    config: ArchiveConfig, signing: SigningConfig, clock: FixedClock
) -> None:
    broken = _BrokenSigner(PadesSigner(signing))
    with Archive(config, clock=clock, signer=broken) as archive:
        archive.initialise(organisation=ORGANISATION)
        with pytest.raises(SigningUnavailable):
            archive.issue_certificate("permanent-residence", CITIZEN, by="admin")
        entry = archive.register(
            NewRegistration(direction="incoming", subject="Αίτηση"), by="admin"
        )
        assert entry.number == 1
        with archive._db.read() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(SEAL)).scalar() == 0


def test_an_expired_signing_certificate_signs_nothing_and_uses_no_number(
    issuing: Archive, clock: FixedClock
) -> None:
    """Administrators are told a month ahead; once it has expired, nothing is signed with it."""
    identity = issuing.signing_identity()
    assert identity is not None and not identity.renew_soon and identity.notice() is None
    until = identity.valid_until
    clock.set(until - timedelta(days=20, hours=1))
    soon = issuing.signing_identity()
    assert soon is not None and (soon.days_left, soon.renew_soon, soon.expired) == (20, True, False)
    assert f"expires on {until:%d/%m/%Y %H:%M}, in 20 days" in (soon.notice() or "")
    issued, _ = _main_pdf(issuing)  # still signed meanwhile

    clock.set(until + timedelta(minutes=1))
    expired = issuing.signing_identity()
    assert expired is not None and expired.expired
    refusal = f"signing certificate of 'Δήμος Χανίων \\(ΔΟΚΙΜΑΣΤΙΚΟ\\)' expired on {until:%d/%m/%Y}"
    assert re.search(refusal, expired.notice() or "")
    with pytest.raises(SigningUnavailable, match=refusal):
        _main_pdf(issuing)
    with pytest.raises(SigningUnavailable, match=refusal):
        issuing.register(
            NewRegistration(direction="outgoing", subject="Απάντηση", recipients=("Α. Β.",)),
            [FileInput("apantisi.pdf", greek_pdf(), FileRole.MAIN)],
            by="admin",
            seal=True,
        )
    with pytest.raises(SigningUnavailable, match=refusal):
        issuing.produce_daily_register(by="admin")
    entry = issuing.register(NewRegistration(direction="incoming", subject="Αίτηση"), by="admin")
    assert (entry.year, entry.number) == (issued.year, issued.number + 1)


def test_a_certificate_form_sent_twice_issues_once(issuing: Archive) -> None:
    """A double click at the counter: one number, one certificate, the same code."""
    first = issuing.issue_certificate("permanent-residence", CITIZEN, by="kep", submission="k1")
    again = issuing.issue_certificate("permanent-residence", CITIZEN, by="kep", submission="k1")
    assert again == first
    # The form sent back with another citizen's address is another certificate: refused.
    moved = {**CITIZEN, "address": "Τζανακάκη 3, Χανιά"}
    with pytest.raises(Conflict, match="already registered 1/2026, with other contents"):
        issuing.issue_certificate("permanent-residence", moved, by="kep", submission="k1")
    assert len(issuing.list().items) == 1
    assert issuing.issue_certificate("permanent-residence", moved, by="kep").number == 2


def test_bad_fields_unknown_templates_and_unauthorised_users_are_refused(
    issuing: Archive,
) -> None:
    with pytest.raises(InvalidInput) as missing:
        issuing.issue_certificate("permanent-residence", {"full_name": "Α Β"}, by="kep")
    assert missing.value.field == "fields.father_name"
    with pytest.raises(InvalidInput) as afm:
        issuing.issue_certificate("permanent-residence", {**CITIZEN, "afm": "123456789"}, by="kep")
    assert afm.value.field == "fields.afm"
    with pytest.raises(InvalidInput):
        issuing.issue_certificate(
            "permanent-residence", {**CITIZEN, "birth_date": "31/02/1980"}, by="kep"
        )
    with pytest.raises(InvalidInput):
        issuing.issue_certificate(
            "generic", {"full_name": "Α", "statement": "x", "age": "3"}, by="kep"
        )
    with pytest.raises(NotFound):
        issuing.issue_certificate("no-such-template", CITIZEN, by="kep")
    with pytest.raises(Forbidden):
        issuing.issue_certificate("permanent-residence", CITIZEN, by="staff")
    assert issuing.list().items == ()


def test_text_with_markup_is_printed_as_text(issuing: Archive) -> None:
    entry = issuing.issue_certificate(
        "generic",
        {"full_name": "<b>Μαρία</b> & Σία", "statement": "έχει <script>alert(1)</script> οφειλές."},
        by="kep",
    )
    pdf = _bytes(issuing, (entry.book, entry.year, entry.number), entry.files[0].id)
    text = PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    assert "<b>Μαρία</b> & Σία" in text
    assert "<script>alert(1)</script>" in text


def test_templates_added_by_admins_are_offered(
    config: ArchiveConfig, signing: SigningConfig, clock: FixedClock, tmp_path: Path
) -> None:
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "pet.toml").write_text(
        'code = "pet-registration"\ntitle = "Βεβαίωση καταγραφής ζώου συντροφιάς"\n'
        'body = "Ο/Η $owner έχει καταχωρίσει το ζώο με αριθμό σήμανσης $chip."\n'
        '[[fields]]\nname = "owner"\nlabel = "Ιδιοκτήτης"\nrecipient = true\n'
        '[[fields]]\nname = "chip"\nlabel = "Αριθμός microchip"\n'
        'hint = "Τα 15 ψηφία κάτω από τον γραμμωτό κώδικα του βιβλιαρίου."\n',
        encoding="utf-8",
    )
    cfg = dataclasses.replace(config, signing=signing, templates_dir=folder)
    with Archive(cfg, clock=clock) as archive:
        archive.initialise(organisation=ORGANISATION)
        codes = [t.code for t in archive.certificate_templates()]
        assert codes == ["generic", "permanent-residence", "pet-registration"]
        pet = archive.certificate_templates()[-1]
        assert [f.hint for f in pet.fields] == [
            None,
            "Τα 15 ψηφία κάτω από τον γραμμωτό κώδικα του βιβλιαρίου.",
        ]
        entry = archive.issue_certificate(
            "pet-registration", {"owner": "Ελένη Κ.", "chip": "941000024567891"}, by="admin"
        )
        assert entry.recipients == ("Ελένη Κ.",)

    (folder / "broken.toml").write_text('code = "x"\ntitle = "Χ"\nbody = "$nope"\nfields = []\n')
    with pytest.raises(InvalidInput, match="nope"):
        Archive(cfg, clock=clock)


def test_an_outgoing_pdf_is_stamped_and_signed_when_sealed(
    issuing: Archive, tmp_path: Path
) -> None:
    original = greek_pdf("Απάντηση στο αίτημά σας για άδεια κατάληψης κοινόχρηστου χώρου")
    entry = issuing.register(
        NewRegistration(direction="outgoing", subject="Απάντηση για άδεια", recipients=("Α. Β.",)),
        [FileInput("apantisi.pdf", original, FileRole.MAIN)],
        by="admin",
        seal=True,
    )
    code = entry.verification_code
    assert code is not None
    stored = _bytes(issuing, (entry.book, entry.year, entry.number), entry.files[0].id)
    assert stored != original and entry.files[0].sha256 == hashlib.sha256(stored).hexdigest()
    text = PdfReader(io.BytesIO(stored)).pages[0].extract_text()
    assert "κοινόχρηστου" in text and code in text and "1/2026" in text
    assert _qr_texts(stored, tmp_path) == [f"http://127.0.0.1:8000/verify/{code}"]
    assert issuing.verify_pdf(stored).authentic
    assert issuing.verify_code(code).title == "Απάντηση για άδεια"
    assert [
        c.standing for c in issuing.get(entry.book, entry.year, entry.number).files[0].signatures
    ] == ["ok"]

    with pytest.raises(InvalidInput):
        issuing.register(
            NewRegistration(direction="incoming", subject="Αίτηση"),
            [FileInput("a.pdf", original, FileRole.MAIN)],
            by="admin",
            seal=True,
        )
    # Stamping would break an existing signature: refused, and no number used.
    _, signed = _main_pdf(issuing)
    with pytest.raises(InvalidInput, match="already digitally signed"):
        issuing.register(
            NewRegistration(direction="outgoing", subject="Ξανά"),
            [FileInput("b.pdf", signed, FileRole.MAIN)],
            by="admin",
            seal=True,
        )
    assert issuing.list().items[0].number == 2


def test_an_incoming_signed_pdf_is_kept_byte_identical_with_its_signature_report(
    issuing: Archive, tmp_path: Path
) -> None:
    _, signed = _main_pdf(issuing)
    entry = issuing.register(
        NewRegistration(direction="incoming", subject="Βεβαίωση που προσκόμισε πολίτης"),
        [FileInput("bebaiosi.pdf", signed, FileRole.MAIN)],
        by="admin",
    )
    (stored,) = entry.files
    assert stored.sha256 == hashlib.sha256(signed).hexdigest()
    assert _bytes(issuing, (entry.book, entry.year, entry.number), stored.id) == signed
    (check,) = stored.signatures
    assert check.intact and check.valid and check.trusted and check.ours
    assert check.signer.startswith(ORGANISATION)
    # The report is kept with the file, not recomputed.
    assert issuing.get("general", 2026, 2).files[0].signatures == stored.signatures

    # Signed by a key we do not know: intact, but not trusted.
    stranger_key = tmp_path / "stranger.p12"
    create_development_identity(stranger_key, b"pw", "Άλλος φορέας")
    foreign = PadesSigner(SigningConfig(stranger_key, b"pw")).sign(greek_pdf("Έγγραφο τρίτου"))
    other = issuing.register(
        NewRegistration(direction="incoming", subject="Έγγραφο άλλου φορέα"),
        [FileInput("allo.pdf", foreign, FileRole.MAIN)],
        by="admin",
    )
    (check,) = other.files[0].signatures
    assert check.intact and check.valid and not check.trusted and not check.ours
    unsigned = issuing.register(
        NewRegistration(direction="incoming", subject="Χωρίς υπογραφή"),
        [FileInput("x.pdf", greek_pdf("Απλό έγγραφο"), FileRole.MAIN)],
        by="admin",
    )
    assert unsigned.files[0].signatures == ()


def test_a_renamed_organisation_issues_under_its_new_name(
    issuing: Archive, clock: FixedClock
) -> None:
    old, before = _main_pdf(issuing)
    clock.set(clock.now() + timedelta(days=1))
    assert issuing.rename_organisation("Δήμος Χανίων Κρήτης", by="admin") == ORGANISATION
    clock.set(clock.now() + timedelta(days=1))
    new, after = _main_pdf(issuing)
    # Each verifies under the name printed on it.
    assert old.verification_code and new.verification_code
    assert issuing.verify_code(old.verification_code).issuer == ORGANISATION
    assert issuing.verify_code(new.verification_code).issuer == "Δήμος Χανίων Κρήτης"
    assert "Δήμος Χανίων Κρήτης" in PdfReader(io.BytesIO(after)).pages[0].extract_text()
    assert "Κρήτης" not in PdfReader(io.BytesIO(before)).pages[0].extract_text()
    (event,) = [e for e in issuing.audit_events(limit=1000) if e.action == "organisation.renamed"]
    assert event.target == "Δήμος Χανίων Κρήτης" and event.details == {"from": ORGANISATION}
    assert issuing.verify_audit_chain().ok


def test_issuing_needs_a_signing_key(archive: Archive) -> None:
    with pytest.raises(SigningUnavailable):
        archive.issue_certificate("permanent-residence", CITIZEN, by="admin")


def test_a_server_without_the_signing_key_still_verifies_codes(
    issuing: Archive, config: ArchiveConfig, clock: FixedClock
) -> None:
    entry, pdf = _main_pdf(issuing)
    assert entry.verification_code is not None
    # The public verification server of the same archive, run without the private key.
    with Archive(config, clock=clock) as public:
        found = public.verify_code(entry.verification_code)
        assert found.status is VerificationStatus.VALID
        assert found.protocol_number == entry.protocol_number
        assert found.sha256 == hashlib.sha256(pdf).hexdigest()
        with pytest.raises(SigningUnavailable, match="a file cannot be checked"):
            public.verify_pdf(pdf)


@dataclasses.dataclass
class Authority:
    """A timestamp server under the test's control: its address, its time, what it was asked."""

    url: str
    stamped_at: datetime
    #: While it is cleared, requests get no answer.
    answering: threading.Event
    requests: int = 0


@pytest.fixture
def timestamp_server() -> Iterator[Authority]:
    """A real RFC 3161 timestamp authority over HTTP on 127.0.0.1 (pyHanko's test TSA)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test TSA")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .sign(key, hashes.SHA256())
    )
    stamped_at = datetime(2026, 3, 2, 9, 30, 5, tzinfo=UTC)
    stamper = DummyTimeStamper(
        tsa_cert=asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER)),
        tsa_key=asn1_keys.PrivateKeyInfo.load(
            key.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        ),
        fixed_dt=stamped_at,
    )

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            authority.requests += 1
            if not authority.answering.is_set():
                time.sleep(3)  # no answer: the client gives up first
                return
            request = tsp.TimeStampReq.load(self.rfile.read(int(self.headers["Content-Length"])))
            body = stamper.request_tsa_response(request).dump()
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    authority = Authority(
        f"http://127.0.0.1:{server.server_address[1]}/", stamped_at, threading.Event()
    )
    authority.answering.set()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield authority
    finally:
        server.shutdown()
        server.server_close()


def test_with_a_timestamp_server_signatures_carry_its_time(
    config: ArchiveConfig,
    signing: SigningConfig,
    clock: FixedClock,
    timestamp_server: Authority,
) -> None:
    stamped_at = timestamp_server.stamped_at
    timestamped = dataclasses.replace(signing, timestamp_url=timestamp_server.url)
    with Archive(dataclasses.replace(config, signing=timestamped), clock=clock) as archive:
        archive.initialise(organisation=ORGANISATION)
        archive.add_user("kep", "Υπάλληλος ΚΕΠ", roles=[Role.ISSUER], by="admin")
        entry, pdf = _main_pdf(archive)
        (embedded,) = PdfFileReader(io.BytesIO(pdf)).embedded_signatures
        status = validate_pdf_signature(
            embedded, ValidationContext(trust_roots=[our_root(signing)], allow_fetching=False)
        )
        assert status.timestamp_validity is not None  # PAdES-B-T
        assert status.timestamp_validity.timestamp == stamped_at
        assert archive.verify_pdf(pdf).signatures[0].signed_at == stamped_at
        assert entry.verification_code is not None


def _book_goes_on_while_it_asks(
    archive: Archive, tsa: Authority, signing: Callable[[], object]
) -> Registration:
    """Run ``signing`` while the server is silent; register meanwhile, which must not wait."""
    asked = tsa.requests
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        asking = pool.submit(signing)
        while tsa.requests == asked:
            time.sleep(0.01)
        started = time.monotonic()
        entry = archive.register(
            NewRegistration(direction=Direction.INCOMING, subject="Αίτηση"), [], by="admin"
        )
        assert time.monotonic() - started < 1 and not asking.done()
        with pytest.raises(SigningUnavailable, match="does not answer"):
            asking.result()
    return entry


def test_a_timestamp_server_that_does_not_answer_holds_the_book_once(
    config: ArchiveConfig,
    signing: SigningConfig,
    clock: FixedClock,
    timestamp_server: Authority,
) -> None:
    """Refused at once while it is known down; asked again only outside the book's lock."""
    tsa = timestamp_server
    timestamped = dataclasses.replace(signing, timestamp_url=tsa.url, timeout=2, timestamp_pause=2)
    with Archive(dataclasses.replace(config, signing=timestamped), clock=clock) as archive:
        archive.initialise(organisation=ORGANISATION)
        archive.add_user("kep", "Υπάλληλος ΚΕΠ", roles=[Role.ISSUER], by="admin")
        tsa.answering.clear()
        with pytest.raises(SigningUnavailable, match="does not answer") as down:
            _main_pdf(archive)  # waits the 2-s timeout, holding the book
        assert tsa.requests == 1
        assert tsa.url in down.value.message
        started = time.monotonic()
        with pytest.raises(SigningUnavailable, match=r"next try in [12] s"):
            _main_pdf(archive)  # not waited for again
        assert time.monotonic() - started < 1 and tsa.requests == 1

        time.sleep(2)  # the pause is over, the server still silent: a certificate asks it
        entry = _book_goes_on_while_it_asks(archive, tsa, lambda: _main_pdf(archive))
        assert entry.number == 1  # and no number went to a certificate not issued

        time.sleep(2)
        tsa.answering.set()
        issued = archive.issue_certificate("permanent-residence", CITIZEN, by="kep", submission="k")
        assert issued.number == 2 and tsa.requests > 2  # asked again, and answered

        tsa.answering.clear()  # down again, when yesterday's daily register is to be signed
        with pytest.raises(SigningUnavailable):
            _main_pdf(archive)
        sent_again = archive.issue_certificate(
            "permanent-residence", CITIZEN, by="kep", submission="k"
        )
        assert sent_again == issued  # a double click gets the certificate it had
        clock.set(clock.now() + timedelta(days=1))
        asked = tsa.requests
        with pytest.raises(SigningUnavailable, match="next try"):
            archive.produce_daily_register(by="admin")
        assert tsa.requests == asked
        time.sleep(2)
        _book_goes_on_while_it_asks(  # signed under the audit chain's lock: asked before it
            archive, tsa, lambda: archive.produce_daily_register(by="admin")
        )


@pytest.mark.parametrize(
    ("organisation", "signer"),
    [
        ("Δήμος Ηρακλείου", "Δήμος Ηρακλείου (ΔΟΚΙΜΑΣΤΙΚΟ)"),
        ("Δήμος Αγίου Νικολάου", "Δήμος Αγίου Νικολάου (ΔΟΚΙΜΑΣΤΙΚΟ)"),
        (
            "Δήμος Ηρακλείου - Διεύθυνση Διοικητικών Υπηρεσιών",
            "Δήμος Ηρακλείου - Δι… (ΔΟΚΙΜΑΣΤΙΚΟ)",
        ),
    ],
    ids=["15 letters", "20 letters", "cut"],
)
def test_a_development_key_names_a_greek_organisation_of_any_length(
    tmp_path: Path, organisation: str, signer: str
) -> None:
    # Certificate names are limited to 64 bytes, and a Greek letter takes two.
    identity = tmp_path / "dev.p12"
    create_development_identity(identity, b"pw", organisation)
    loaded = PadesSigner(SigningConfig(identity, b"pw"))
    assert loaded.signer_name == signer
    (check,) = loaded.check_issued(loaded.sign(greek_pdf("Δοκιμή")))
    assert check.signer == signer and check.intact and check.valid


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"p12_path": Path("/no/such/key.p12")}, "key.p12 cannot be read: No such file"),
        ({"p12_path": Path("/etc")}, "signing key /etc cannot be read: Is a directory"),
        ({"p12_path": Path("/etc/passwd")}, "not a PKCS#12 file, or the wrong password"),
        ({"password": b"not-the-password"}, "not a PKCS#12 file, or the wrong password"),
        ({"trust_roots": Path("/no/roots.pem")}, "trust roots /no/roots.pem cannot be read"),
        ({"trust_roots": Path("/etc/passwd")}, "trust roots /etc/passwd are not PEM"),
        ({"timestamp_url": "tsa.example.gr"}, "timestamp server must be an http:// or https://"),
    ],
)
def test_a_signing_setting_that_cannot_work_is_named_at_start(
    signing: SigningConfig, change: dict[str, Any], message: str
) -> None:
    """Not a traceback from pyHanko's logger, nor an error at the first certificate."""
    with pytest.raises(SigningUnavailable, match=re.escape(message)):
        PadesSigner(dataclasses.replace(signing, **change))


def test_the_signing_password_is_never_shown(signing: SigningConfig, tmp_path: Path) -> None:
    assert b"test-password".decode() not in repr(signing)
    wrong = dataclasses.replace(signing, password=b"wrong-secret-123")
    with pytest.raises(SigningUnavailable) as refused:
        PadesSigner(wrong)
    assert "wrong-secret-123" not in str(refused.value)
