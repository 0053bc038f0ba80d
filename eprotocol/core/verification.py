"""Public verification of sealed documents, by code or by the file itself.

What verification tells is public: number, date, title, issuer and the
document's SHA-256 — never the citizen's personal data. Reasons are written
in Greek, for the citizen or the official holding the document.
"""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import replace
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from eprotocol.core.certificates import (
    PdfVerification,
    Signer,
    Verification,
    VerificationStatus,
)
from eprotocol.core.database import Database
from eprotocol.core.errors import SigningUnavailable
from eprotocol.core.intake import PdfInspector
from eprotocol.core.models import BOOK, CANCELLATION, REGISTRATION, SEAL
from eprotocol.core.queries import organisation_name
from eprotocol.core.types import ProtocolRef, SignatureCheck, Status

_UNKNOWN = Verification(status=VerificationStatus.UNKNOWN)
_FOUND = (
    sa.select(
        SEAL.c.verification_code,
        SEAL.c.title,
        SEAL.c.sha256,
        BOOK.c.code.label("book"),
        REGISTRATION.c.year,
        REGISTRATION.c.number,
        REGISTRATION.c.registered_at,
        REGISTRATION.c.status,
        CANCELLATION.c.cancelled_at,
    )
    .join(REGISTRATION, REGISTRATION.c.id == SEAL.c.registration_id)
    .join(BOOK, BOOK.c.id == REGISTRATION.c.book_id)
    .outerjoin(CANCELLATION, CANCELLATION.c.registration_id == REGISTRATION.c.id)
)


class Verifier:
    """Answers "is this document genuine and in force?".

    A file that is not byte-identical to one we issued may be anything, made by
    anyone: its signatures are checked by the sandboxed PDF workers (``inspector``,
    with time and memory limits), never in this process.
    """

    def __init__(
        self,
        db: Database,
        signer: Signer | None,
        inspector: PdfInspector,
        tz: ZoneInfo,
        spool_dir: Path | None,
    ) -> None:
        self._db = db
        self._signer = signer
        self._inspector = inspector
        self._tz = tz
        self._spool_dir = spool_dir

    def _lookup(self, where: sa.ColumnElement[bool]) -> Verification:
        with self._db.read() as conn:
            row = conn.execute(_FOUND.where(where)).mappings().first()
            if row is None:
                return _UNKNOWN
            # The name it was issued under, which a later rename does not change.
            issuer = organisation_name(conn, at=row["registered_at"]) or None
        cancelled = row["status"] == Status.CANCELLED
        return Verification(
            status=VerificationStatus.CANCELLED if cancelled else VerificationStatus.VALID,
            verification_code=row["verification_code"],
            protocol_number=ProtocolRef(row["book"], row["year"], row["number"]).protocol_number,
            registered_at=row["registered_at"].astimezone(self._tz),
            title=row["title"],
            issuer=issuer,
            sha256=row["sha256"],
            cancelled_at=row["cancelled_at"].astimezone(self._tz) if cancelled else None,
        )

    def by_code(self, code: str) -> Verification:
        """The document issued with ``code`` (already normalised), or status ``unknown``."""
        return self._lookup(SEAL.c.verification_code == code)

    def by_file(self, content: bytes) -> PdfVerification:
        """Compare ``content`` with what we issued and check its signatures.

        ``SigningUnavailable`` without the signing identity: only its certificate
        tells our signature from anyone else's.
        """
        signer = self._signer
        if signer is None:
            raise SigningUnavailable(
                "no signing key is configured (EPROTOCOL_SIGNING_P12): a file cannot be checked"
            )
        sha256 = hashlib.sha256(content).hexdigest()
        document = self._lookup(SEAL.c.sha256 == sha256)
        identical = document.status is not VerificationStatus.UNKNOWN
        if identical:
            checks = signer.check_issued(content)  # our own bytes: safe to parse here
        else:
            with tempfile.NamedTemporaryFile(prefix="eprotocol-verify-", dir=self._spool_dir) as f:
                f.write(content)
                f.flush()
                report = self._inspector.inspect(Path(f.name), signatures_if_refused=True)
            if report.refusal is not None and not report.signatures:
                return PdfVerification(
                    authentic=False,
                    identical=False,
                    document=_UNKNOWN,
                    signatures=(),
                    reasons=("Το αρχείο δεν είναι αναγνώσιμο PDF.",),
                )
            checks = report.signatures
        reasons: list[str] = []
        if not identical:
            document, checks = self._origin(content, checks, signer)
            reasons.append(
                "Το αρχείο δεν είναι πανομοιότυπο με κανένα έγγραφο που εκδόθηκε"
                + (
                    f" (προέρχεται από το {document.protocol_number}, αλλά έχει αλλοιωθεί)."
                    if document.protocol_number
                    else "."
                )
            )
        ours = [c for c in checks if c.ours]
        reasons += _signature_reasons(ours, any_signature=bool(checks))
        if document.status is VerificationStatus.CANCELLED:
            reasons.append(f"Το έγγραφο {document.protocol_number} έχει ακυρωθεί.")
        authentic = identical and not reasons
        return PdfVerification(
            authentic=authentic,
            identical=identical,
            document=document,
            signatures=checks,
            reasons=tuple(reasons),
        )

    def _origin(
        self, content: bytes, checks: tuple[SignatureCheck, ...], signer: Signer
    ) -> tuple[Verification, tuple[SignatureCheck, ...]]:
        """The issued document a modified file was made from, when its signed part is intact.

        An update appended after signing leaves the signed revision as the
        file's first bytes; if those are a document we issued, say which. The
        certificate that signed that document is ours even if it is not today's
        (it was renewed since): ``checks`` come back with its signatures marked so.
        """
        for check in checks:
            if check.intact and check.signed_bytes:
                signed_part = content[: check.signed_bytes]
                found = self._lookup(SEAL.c.sha256 == hashlib.sha256(signed_part).hexdigest())
                if found.status is not VerificationStatus.UNKNOWN:
                    issued_by = {c.certificate_sha256 for c in signer.check_issued(signed_part)}
                    return found, tuple(
                        replace(c, ours=True)
                        if c.certificate_sha256 is not None and c.certificate_sha256 in issued_by
                        else c
                        for c in checks
                    )
        return _UNKNOWN, checks


def _signature_reasons(ours: list[SignatureCheck], *, any_signature: bool) -> list[str]:
    if not ours:
        if any_signature:
            return ["Το αρχείο δεν φέρει την ψηφιακή υπογραφή του φορέα."]
        return ["Το αρχείο δεν φέρει ψηφιακή υπογραφή (ίσως αφαιρέθηκε)."]
    reasons = []
    for check in ours:
        if not (check.intact and check.valid):
            reasons.append(
                "Η ψηφιακή υπογραφή δεν είναι έγκυρη: το περιεχόμενο άλλαξε μετά την υπογραφή."
            )
        elif not check.covers_whole_file:
            reasons.append("Προστέθηκαν αλλαγές στο αρχείο μετά την ψηφιακή υπογραφή.")
    return reasons
