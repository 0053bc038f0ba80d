"""eprotocol: the electronic document protocol and archive of a Greek municipality.

Import :class:`Archive` with an :class:`ArchiveConfig` to register, read,
cancel and correct protocol book entries; every error is an
:class:`EProtocolError`.

The names are loaded on first use (PEP 562), so that a process importing only
a part of the package — every sandboxed worker runs ``eprotocol.sandbox`` —
does not pay for loading the whole library.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from eprotocol.archive import Archive
    from eprotocol.config import (
        ArchiveConfig,
        DigestPolicy,
        ExtractionPolicy,
        IntakePolicy,
        LocalStorageConfig,
        S3StorageConfig,
        SigningConfig,
        SmtpConfig,
        storage_config_from_url,
    )
    from eprotocol.core.certificates import (
        CertificateTemplate,
        PdfVerification,
        TemplateField,
        Verification,
        VerificationStatus,
    )
    from eprotocol.core.daily_register import DailyRegister
    from eprotocol.core.digest import DigestReport
    from eprotocol.core.disposal import (
        DecidedGroup,
        DisposalDecision,
        DisposalGroup,
        DueForDisposal,
    )
    from eprotocol.core.errors import (
        AlreadyCancelled,
        BlobCorrupt,
        BlobMissing,
        Conflict,
        DatabaseUnavailable,
        EProtocolError,
        Forbidden,
        ImmutableField,
        IndexUnavailable,
        IntegrityFailure,
        InvalidInput,
        InvalidReference,
        InvalidTransfer,
        InvalidTransition,
        MailUnavailable,
        NotFound,
        RefusedFile,
        RegistrationNotFound,
        SchemaOutOfDate,
        SigningUnavailable,
        StorageUnavailable,
        Unauthenticated,
        Unavailable,
        UnknownBook,
    )
    from eprotocol.core.filing_plan import read_plan_csv
    from eprotocol.core.fsck import BlobProblem, FsckReport
    from eprotocol.core.routing import InboxEntry
    from eprotocol.core.rules import RoutingRule, Suggestion
    from eprotocol.core.search import SearchFilters, SearchHit, SearchIndexStatus, SearchResult
    from eprotocol.core.transfer import Series, TransferReport
    from eprotocol.core.types import (
        ApiToken,
        Assignment,
        AssignmentState,
        AuditEvent,
        Cancellation,
        ChainReport,
        Channel,
        Classification,
        Correction,
        Department,
        Direction,
        Disposal,
        FileInput,
        FileRole,
        NewRegistration,
        Page,
        ProtocolBook,
        ProtocolRef,
        Purpose,
        Registration,
        RegistrationFilter,
        Role,
        RouteTo,
        SignatureCheck,
        SigningIdentity,
        Status,
        StoredFile,
        User,
    )

__all__ = [
    "AlreadyCancelled",
    "ApiToken",
    "Archive",
    "ArchiveConfig",
    "Assignment",
    "AssignmentState",
    "AuditEvent",
    "BlobCorrupt",
    "BlobMissing",
    "BlobProblem",
    "Cancellation",
    "CertificateTemplate",
    "ChainReport",
    "Channel",
    "Classification",
    "Conflict",
    "Correction",
    "DailyRegister",
    "DatabaseUnavailable",
    "DecidedGroup",
    "Department",
    "DigestPolicy",
    "DigestReport",
    "Direction",
    "Disposal",
    "DisposalDecision",
    "DisposalGroup",
    "DueForDisposal",
    "EProtocolError",
    "ExtractionPolicy",
    "FileInput",
    "FileRole",
    "Forbidden",
    "FsckReport",
    "ImmutableField",
    "InboxEntry",
    "IndexUnavailable",
    "IntakePolicy",
    "IntegrityFailure",
    "InvalidInput",
    "InvalidReference",
    "InvalidTransfer",
    "InvalidTransition",
    "LocalStorageConfig",
    "MailUnavailable",
    "NewRegistration",
    "NotFound",
    "Page",
    "PdfVerification",
    "ProtocolBook",
    "ProtocolRef",
    "Purpose",
    "RefusedFile",
    "Registration",
    "RegistrationFilter",
    "RegistrationNotFound",
    "Role",
    "RouteTo",
    "RoutingRule",
    "S3StorageConfig",
    "SchemaOutOfDate",
    "SearchFilters",
    "SearchHit",
    "SearchIndexStatus",
    "SearchResult",
    "Series",
    "SignatureCheck",
    "SigningConfig",
    "SigningIdentity",
    "SigningUnavailable",
    "SmtpConfig",
    "Status",
    "StorageUnavailable",
    "StoredFile",
    "Suggestion",
    "TemplateField",
    "TransferReport",
    "Unauthenticated",
    "Unavailable",
    "UnknownBook",
    "User",
    "Verification",
    "VerificationStatus",
    "read_plan_csv",
    "storage_config_from_url",
]

#: Where the public names live, searched in this order on first use.
_MODULES = (
    "eprotocol.archive",
    "eprotocol.config",
    "eprotocol.core.certificates",
    "eprotocol.core.daily_register",
    "eprotocol.core.digest",
    "eprotocol.core.disposal",
    "eprotocol.core.errors",
    "eprotocol.core.filing_plan",
    "eprotocol.core.fsck",
    "eprotocol.core.routing",
    "eprotocol.core.rules",
    "eprotocol.core.search",
    "eprotocol.core.transfer",
    "eprotocol.core.types",
)


def __getattr__(name: str) -> object:
    """Import a public name from its module on first use (PEP 562)."""
    if name in __all__:
        for module in _MODULES:
            value = getattr(importlib.import_module(module), name, None)
            if value is not None:
                globals()[name] = value
                return value
    raise AttributeError(f"module 'eprotocol' has no attribute {name!r}")
