"""PAdES signatures with pyHanko: signing with the organisation's key and checking signatures.

The key comes from a PKCS#12 file (:class:`~eprotocol.config.SigningConfig`);
it is loaded once and never logged or shown. :func:`check_signatures` is also
what the sandboxed intake worker runs on incoming PDFs.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
import math
import threading
import time
from collections.abc import Collection, Iterable, Iterator
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime, timedelta
from pathlib import Path

from asn1crypto import pem
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import signers
from pyhanko.sign.fields import SigSeedSubFilter
from pyhanko.sign.general import SigningError
from pyhanko.sign.timestamps import HTTPTimeStamper
from pyhanko.sign.timestamps.common_utils import TimestampRequestError
from pyhanko.sign.validation import EmbeddedPdfSignature, validate_pdf_signature
from pyhanko.sign.validation.status import PdfSignatureStatus
from pyhanko_certvalidator import ValidationContext

from eprotocol.config import SigningConfig, is_web_address
from eprotocol.core.certificates import TIMESTAMP_SERVER_DOWN
from eprotocol.core.errors import InvalidInput, SigningUnavailable
from eprotocol.core.types import SignatureCheck
from eprotocol.private_files import create_private_file

log = logging.getLogger(__name__)
_FIELD = "eprotocol-seal"
# pyHanko logs a full traceback for every modification it finds after a signature;
# for us that is an expected finding, reported in the SignatureCheck.
logging.getLogger("pyhanko.sign.diff_analysis").setLevel(logging.CRITICAL)


def _der(cert: asn1_x509.Certificate) -> bytes:
    return bytes(cert.dump())


def load_trust_roots(pem_data: Iterable[bytes]) -> list[asn1_x509.Certificate]:
    """Certificates from PEM text (each item may hold several)."""
    roots = []
    for data in pem_data:
        for _, _, der in pem.unarmor(data, multiple=True):
            roots.append(asn1_x509.Certificate.load(der))
    return roots


def _signer_name(cert: asn1_x509.Certificate) -> str:
    subject = cert.subject.native
    return str(subject.get("common_name") or cert.subject.human_friendly)


def _signed_bytes(sig: EmbeddedPdfSignature) -> int | None:
    """The end of the signature's ``/ByteRange``: the length of the revision it signs."""
    try:
        start, _, second, rest = (int(v) for v in sig.sig_object["/ByteRange"])
    except (KeyError, TypeError, ValueError):
        return None
    return second + rest if start == 0 else None


def _check(
    status: PdfSignatureStatus, field: str, ours: Collection[bytes], signed_bytes: int | None
) -> SignatureCheck:
    cert = status.signing_cert
    level = status.modification_level
    signed_at = status.signer_reported_dt
    if status.timestamp_validity is not None:
        signed_at = status.timestamp_validity.timestamp
    return SignatureCheck(
        field=field,
        signer=_signer_name(cert) if cert is not None else "",
        intact=bool(status.intact),
        valid=bool(status.valid),
        trusted=bool(status.trusted),
        ours=cert is not None and _der(cert) in ours,
        covers_whole_file=status.coverage is not None and status.coverage.name == "ENTIRE_FILE",
        modification=level.name.lower() if level is not None else "other",
        signed_at=signed_at.astimezone(UTC) if signed_at is not None else None,
        problem=None if status.bottom_line else status.summary(),
        signed_bytes=signed_bytes,
        certificate_sha256=hashlib.sha256(_der(cert)).hexdigest() if cert is not None else None,
    )


def check_signatures(
    data: bytes,
    trust_roots: list[asn1_x509.Certificate],
    ours: Collection[bytes] = (),
    *,
    issued: bool = False,
) -> tuple[SignatureCheck, ...]:
    """Validate every signature in ``data`` against ``trust_roots`` (no network fetching).

    ``ours`` holds the DER of the organisation's certificate, to tell our own
    signatures apart. ``issued`` says that ``data`` is a file the archive issued
    (its bytes are on record): its signature's own certificate is then trusted and
    ours — the one in use when it was signed, which a renewal may have replaced
    since. Raises ``InvalidInput`` when the file cannot be read as a PDF.
    """
    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        embedded = list(reader.embedded_signatures)
    except (PdfError, ValueError, KeyError, TypeError) as exc:
        raise InvalidInput(f"the file cannot be read as a PDF ({exc})", field="file") from exc
    checks = []
    for sig in embedded:
        roots, own = trust_roots, ours
        try:
            if issued:
                signer = sig.signer_cert
                roots, own = [*trust_roots, signer], {*ours, _der(signer)}
            context = ValidationContext(trust_roots=roots, allow_fetching=False)
            status = validate_pdf_signature(sig, context)
        except Exception as exc:  # noqa: BLE001 - any failure means "this signature does not hold"
            checks.append(
                SignatureCheck(
                    field=sig.field_name or "",
                    signer="",
                    intact=False,
                    valid=False,
                    trusted=False,
                    ours=False,
                    covers_whole_file=False,
                    modification="other",
                    problem=f"{type(exc).__name__}: {str(exc)[:300]}",
                )
            )
            continue
        checks.append(_check(status, sig.field_name or "", own, _signed_bytes(sig)))
    return tuple(checks)


def _read(path: Path, what: str) -> bytes:
    """The bytes of a configured file (``SigningUnavailable`` naming it if unreadable)."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise SigningUnavailable(f"{what} {path} cannot be read: {exc.strerror}") from exc


class _TimestampServer:
    """The RFC 3161 server signatures take their time from, and whether it failed lately.

    A signature is made while the protocol book waits (the document carries its
    number), so a server that does not answer would hold every registration for
    its timeout, again for each document to sign. After a failure it is not asked
    for ``pause`` seconds: signing is refused at once. Then :meth:`check` — called
    before a number is taken — asks it for a timestamp of its own, and only once
    it answers do signatures wait for it again.
    """

    def __init__(self, url: str, *, timeout: float, pause: float) -> None:
        self.stamper = HTTPTimeStamper(url, timeout=max(1, math.ceil(timeout)))
        self._url = url
        self._pause = pause
        self._lock = threading.Lock()
        self._failed_at: float | None = None  # time.monotonic() of the last failure

    @contextmanager
    def asked(self) -> Iterator[None]:
        """Refuse while paused, else run the block, noting a failure of the server in it."""
        with self._lock:
            if self._failed_at is not None:
                self._refuse_until(self._failed_at + self._pause)
        with self._noting_failure():
            yield

    def check(self) -> None:
        """Refuse while paused; after a pause, ask the server before anything waits for it."""
        with self._lock:
            if self._failed_at is None:
                return
            self._refuse_until(self._failed_at + self._pause)
            self._failed_at = time.monotonic()  # the others are refused while this one asks
        with self._noting_failure():
            asyncio.run(self.stamper.async_timestamp(hashlib.sha256(b"").digest(), "sha256"))
        with self._lock:
            self._failed_at = None

    @contextmanager
    def _noting_failure(self) -> Iterator[None]:
        try:
            yield
        except TimestampRequestError as exc:
            with self._lock:
                self._failed_at = time.monotonic()
            log.warning("the timestamp server %s does not answer: %s", self._url, exc)
            raise self._down(self._pause) from exc

    def _refuse_until(self, until: float) -> None:
        if (left := until - time.monotonic()) > 0:
            raise self._down(left)

    def _down(self, seconds: float) -> SigningUnavailable:
        wait = math.ceil(seconds)
        return SigningUnavailable(
            TIMESTAMP_SERVER_DOWN(url=self._url, seconds=wait), retry_after=wait
        )


class PadesSigner:
    """A :class:`~eprotocol.core.certificates.Signer` holding the organisation's key."""

    def __init__(self, config: SigningConfig) -> None:
        if config.timestamp_url is not None and not is_web_address(config.timestamp_url):
            raise SigningUnavailable(
                f"the timestamp server must be an http:// or https:// address, "
                f"not {config.timestamp_url!r}"
            )
        key = _read(config.p12_path, "the signing key")
        try:
            signer = signers.SimpleSigner.load_pkcs12_data(key, (), passphrase=config.password)
        except ValueError as exc:
            raise SigningUnavailable(
                f"the signing key {config.p12_path} cannot be opened: not a PKCS#12 file, or "
                "the wrong password"
            ) from exc
        self._signer = signer
        self._cert: asn1_x509.Certificate = signer.signing_cert
        self._timestamps = (
            _TimestampServer(
                config.timestamp_url, timeout=config.timeout, pause=config.timestamp_pause
            )
            if config.timestamp_url
            else None
        )
        extra = []
        if config.trust_roots is not None:
            roots = _read(config.trust_roots, "the trust roots")
            try:
                extra = load_trust_roots([roots])
            except ValueError as exc:
                raise SigningUnavailable(
                    f"the trust roots {config.trust_roots} are not PEM certificates"
                ) from exc
        self._roots = [self._cert, *extra]
        self._meta = signers.PdfSignatureMetadata(
            field_name=_FIELD,
            subfilter=SigSeedSubFilter.PADES,
            md_algorithm="sha256",
            reason="Έκδοση εγγράφου με αριθμό πρωτοκόλλου",
        )

    @property
    def signer_name(self) -> str:
        """The common name of the organisation's certificate."""
        return _signer_name(self._cert)

    @property
    def certificate_pem(self) -> bytes:
        """The organisation's certificate, PEM-encoded (public)."""
        return bytes(pem.armor("CERTIFICATE", _der(self._cert)))

    @property
    def valid_until(self) -> datetime:
        """When the organisation's certificate expires."""
        until: datetime = self._cert["tbs_certificate"]["validity"]["not_after"].native
        return until

    @property
    def trust_roots_pem(self) -> bytes:
        """Every certificate incoming signatures are checked against, PEM-encoded."""
        return b"".join(pem.armor("CERTIFICATE", _der(c)) for c in self._roots)

    def check_available(self) -> None:
        """Raise ``SigningUnavailable`` while the timestamp server is known not to answer."""
        if self._timestamps is not None:
            self._timestamps.check()

    def sign(self, pdf: bytes) -> bytes:
        """Append a PAdES signature (B-B, or B-T with a timestamp server) to ``pdf``."""
        timestamps = self._timestamps
        out = io.BytesIO()
        try:
            with timestamps.asked() if timestamps else nullcontext():
                writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
                signers.sign_pdf(
                    writer,
                    self._meta,
                    signer=self._signer,
                    timestamper=timestamps.stamper if timestamps else None,
                    output=out,
                )
        except (SigningError, OSError) as exc:
            raise SigningUnavailable(f"signing failed: {type(exc).__name__}: {exc}") from exc
        except PdfError as exc:
            raise InvalidInput(f"the document cannot be signed: {exc}", field="files") from exc
        return out.getvalue()

    def check_issued(self, pdf: bytes) -> tuple[SignatureCheck, ...]:
        """Validate the signatures of a file this archive issued (see :func:`check_signatures`)."""
        return check_signatures(pdf, self._roots, {_der(self._cert)}, issued=True)


#: The upper bound of a common or organisation name, which cryptography counts in UTF-8
#: bytes: a Greek letter takes two, so 64 bytes hold about 30 letters.
_NAME_ATTRIBUTE_BYTES = 64


def _fit(text: str, limit: int = _NAME_ATTRIBUTE_BYTES) -> str:
    """``text``, or its beginning and "…" when its UTF-8 is over ``limit`` bytes."""
    encoded = text.encode()
    if len(encoded) <= limit:
        return text
    # Cutting the bytes may split a letter in two: "ignore" drops the broken half.
    return encoded[: limit - len("…".encode())].decode(errors="ignore").rstrip() + "…"


def create_development_identity(
    path: Path, password: bytes, organisation: str, *, valid_days: int = 3650
) -> str:
    """Write a self-signed ECDSA P-256 key and certificate (PKCS#12) for development.

    The certificate is valid from yesterday for ``valid_days`` days. Returns its
    SHA-256 fingerprint. Nobody outside this archive trusts such a certificate:
    production must load the organisation's real one.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    marker = " (ΔΟΚΙΜΑΣΤΙΚΟ)"  # "test": shown wherever the signer's name is shown
    limit = _NAME_ATTRIBUTE_BYTES - len(marker.encode())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, _fit(organisation, limit) + marker),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, _fit(organisation)),
            x509.NameAttribute(NameOID.COUNTRY_NAME, "GR"),
        ]
    )
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=valid_days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    data = pkcs12.serialize_key_and_certificates(
        b"eprotocol", key, cert, None, serialization.BestAvailableEncryption(password)
    )
    if not create_private_file(path, data):
        raise InvalidInput(f"{path} already exists; not overwriting a signing key", field="p12")
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()
