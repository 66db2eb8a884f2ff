"""The scripted sequences of the Eclipse DSP TCK's test cases, keyed by dataset or agreement id.

Each TCK case names one dataset (contract negotiation) or one agreement (transfer process); that
id is the only thing on the wire that varies between cases, so it selects what this connector does
next. A script is the list of steps this connector takes *on its own* in one role: "when the
process reaches ``when``, send ``do``". Everything the TCK itself sends, and every refusal the
negative cases expect, is left to the ordinary state machine.

A process whose id is in the table follows its script only: where no step matches, it does
nothing (no automatic agreement, verification or start). Any other process keeps the connector's
default behaviour.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from twinspace.protocol.machine import Role
from twinspace.protocol.negotiation import CN
from twinspace.protocol.transfer import TP


class Action(StrEnum):
    # negotiation, provider
    OFFER = "offer"
    AGREE = "agree"
    FINALIZE = "finalize"
    # negotiation, consumer
    REQUEST = "request"  # a counter-request repeating the provider's last offer
    ACCEPT = "accept"
    VERIFY = "verify"
    # transfer, either side (a consumer's START resumes a suspended transfer)
    START = "start"
    SUSPEND = "suspend"
    COMPLETE = "complete"
    # both protocols, either side
    TERMINATE = "terminate"


@dataclass(frozen=True)
class Step:
    when: str
    do: Action


@dataclass(frozen=True)
class Script:
    case: str  # the TCK test case, e.g. "CN:01-03"
    key: str  # dataset id (negotiation) or agreement id (transfer)
    role: Role  # the role this connector plays in the case
    steps: tuple[Step, ...]
    title: str  # the case's display name in the TCK

    def describe(self) -> str:
        if not self.steps:
            return "nothing of its own"
        return ", then ".join(f"{s.do.value} on {s.when}" for s in self.steps)


P, C = Role.PROVIDER, Role.CONSUMER


def _s(*pairs: tuple[str, Action]) -> tuple[Step, ...]:
    return tuple(Step(when, do) for when, do in pairs)


def _script(case: str, key: str, role: Role, title: str, *pairs: tuple[str, Action]) -> Script:
    return Script(case=case, key=key, role=role, steps=_s(*pairs), title=title)


A = Action
_NEGOTIATIONS = (
    # --- CN_01..03: this connector is the provider; the TCK (consumer) opens every case with a
    # ContractRequestMessage naming dataset ACNxxyy and its offer.
    _script("CN:01-01", "ACN0101", P, "offer received, consumer terminated",
            (CN.REQUESTED, A.OFFER)),
    _script("CN:01-02", "ACN0102", P,
            "offer received, consumer counter-offer, provider terminated",
            (CN.REQUESTED, A.OFFER), (CN.REQUESTED, A.TERMINATE)),
    _script("CN:01-03", "ACN0103", P,
            "offer received, consumer accepted, provider agreement, consumer verified, "
            "provider finalized",
            (CN.REQUESTED, A.OFFER), (CN.ACCEPTED, A.AGREE), (CN.VERIFIED, A.FINALIZE)),
    _script("CN:01-04", "ACN0104", P,
            "provider agreement, consumer verified, provider finalized",
            (CN.REQUESTED, A.AGREE), (CN.VERIFIED, A.FINALIZE)),
    _script("CN:02-01", "ACN0201", P, "provider terminated",
            (CN.REQUESTED, A.TERMINATE)),
    _script("CN:02-02", "ACN0202", P, "consumer terminated"),
    _script("CN:02-03", "ACN0203", P, "provider agreement, consumer terminated",
            (CN.REQUESTED, A.AGREE)),
    _script("CN:02-04", "ACN0204", P, "offer received, consumer terminated",
            (CN.REQUESTED, A.OFFER)),
    _script("CN:02-05", "ACN0205", P, "offer received, provider terminated",
            (CN.REQUESTED, A.OFFER), (CN.OFFERED, A.TERMINATE)),
    _script("CN:02-06", "ACN0206", P,
            "offer received, consumer accepted, provider terminated",
            (CN.REQUESTED, A.OFFER), (CN.ACCEPTED, A.TERMINATE)),
    _script("CN:02-07", "ACN0207", P,
            "provider agreement, consumer verified, provider terminated",
            (CN.REQUESTED, A.AGREE), (CN.VERIFIED, A.TERMINATE)),
    _script("CN:03-01", "ACN0301", P,
            "provider agreement, consumer verified, provider finalized, "
            "invalid consumer terminated (4xx)",
            (CN.REQUESTED, A.AGREE), (CN.VERIFIED, A.FINALIZE)),
    _script("CN:03-02", "ACN0302", P, "offer received, invalid consumer verified (4xx)",
            (CN.REQUESTED, A.OFFER)),
    _script("CN:03-03", "ACN0303", P,
            "offer received, consumer accepted, illegal consumer verified (4xx)",
            (CN.REQUESTED, A.OFFER)),
    _script("CN:03-04", "ACN0304", P,
            "offer received, consumer counter-offer (x2), second one refused (4xx)",
            (CN.REQUESTED, A.OFFER)),
    # --- CN_C_01..03: this connector is the consumer; the TCK triggers it to request dataset
    # ACNCxxyy from the TCK (provider).
    _script("CN_C:01-01", "ACNC0101", C,
            "offer received, consumer accepted, provider agreed, consumer verified, "
            "provider finalized",
            (CN.OFFERED, A.ACCEPT), (CN.AGREED, A.VERIFY)),
    _script("CN_C:01-02", "ACNC0102", C,
            "offer received, consumer counter-offer, provider terminated",
            (CN.OFFERED, A.REQUEST)),
    _script("CN_C:01-03", "ACNC0103", C, "offer received, consumer terminated",
            (CN.OFFERED, A.TERMINATE)),
    _script("CN_C:01-04", "ACNC0104", C,
            "provider agreement, consumer verified, provider finalized",
            (CN.AGREED, A.VERIFY)),
    _script("CN_C:02-01", "ACNC0201", C, "provider terminated"),
    _script("CN_C:02-02", "ACNC0202", C, "consumer terminated",
            (CN.REQUESTED, A.TERMINATE)),
    _script("CN_C:02-03", "ACNC0203", C, "provider agreement, consumer terminated",
            (CN.AGREED, A.TERMINATE)),
    _script("CN_C:02-04", "ACNC0204", C, "offer received, provider terminated"),
    _script("CN_C:02-05", "ACNC0205", C,
            "offer received, consumer accepted, provider terminated",
            (CN.OFFERED, A.ACCEPT)),
    _script("CN_C:02-06", "ACNC0206", C,
            "provider agreement, consumer verified, provider terminated",
            (CN.AGREED, A.VERIFY)),
    _script("CN_C:03-01", "ACNC0301", C, "invalid provider finalized (4xx)"),
    _script("CN_C:03-02", "ACNC0302", C, "offer received, invalid provider agreed (4xx)"),
    _script("CN_C:03-03", "ACNC0303", C, "offer received, invalid provider finalized (4xx)"),
    _script("CN_C:03-04", "ACNC0304", C,
            "offer received, consumer accepted, invalid provider finalized (4xx)",
            (CN.OFFERED, A.ACCEPT)),
    _script("CN_C:03-05", "ACNC0305", C,
            "offer received, consumer accepted, invalid provider offer (4xx)",
            (CN.OFFERED, A.ACCEPT)),
    _script("CN_C:03-06", "ACNC0306", C,
            "offer received, consumer accepted, provider agreed, "
            "invalid provider finalized (4xx)",
            (CN.OFFERED, A.ACCEPT)),
)  # fmt: skip

_TRANSFERS = (
    # --- TP_01..03: this connector is the provider; the TCK (consumer) sends a
    # TransferRequestMessage under agreement ATPxxyy, then only polls, or sends its own messages.
    _script("TP:01-01", "ATP0101", P, "provider started, provider terminated",
            (TP.REQUESTED, A.START), (TP.STARTED, A.TERMINATE)),
    _script("TP:01-02", "ATP0102", P, "provider started, provider completed",
            (TP.REQUESTED, A.START), (TP.STARTED, A.COMPLETE)),
    _script("TP:01-03", "ATP0103", P,
            "provider started, provider suspended, provider terminated",
            (TP.REQUESTED, A.START), (TP.STARTED, A.SUSPEND), (TP.SUSPENDED, A.TERMINATE)),
    _script("TP:01-04", "ATP0104", P,
            "provider started, provider suspended, provider started, provider completed",
            (TP.REQUESTED, A.START), (TP.STARTED, A.SUSPEND), (TP.SUSPENDED, A.START),
            (TP.STARTED, A.COMPLETE)),
    _script("TP:01-05", "ATP0105", P, "provider terminated",
            (TP.REQUESTED, A.TERMINATE)),
    _script("TP:02-01", "ATP0201", P, "provider started, consumer terminated",
            (TP.REQUESTED, A.START)),
    _script("TP:02-02", "ATP0202", P, "provider started, consumer completed",
            (TP.REQUESTED, A.START)),
    _script("TP:02-03", "ATP0203", P,
            "provider started, consumer suspended, consumer terminated",
            (TP.REQUESTED, A.START)),
    _script("TP:02-04", "ATP0204", P,
            "provider started, consumer suspended, consumer started, consumer completed",
            (TP.REQUESTED, A.START)),
    _script("TP:02-05", "ATP0205", P, "consumer terminated (provider never starts)"),
    _script("TP:03-01", "ATP0301", P, "consumer completed (4xx), stays REQUESTED"),
    _script("TP:03-02", "ATP0302", P, "consumer suspended (4xx), stays REQUESTED"),
    _script("TP:03-03", "ATP0303", P,
            "provider started, consumer suspended, consumer completed (4xx)",
            (TP.REQUESTED, A.START)),
    _script("TP:03-04", "ATP0304", P,
            "provider started, consumer terminated, consumer started (4xx)",
            (TP.REQUESTED, A.START)),
    _script("TP:03-05", "ATP0305", P,
            "provider started, consumer terminated, consumer suspended (4xx)",
            (TP.REQUESTED, A.START)),
    _script("TP:03-06", "ATP0306", P,
            "provider started, consumer terminated, consumer completed (4xx)",
            (TP.REQUESTED, A.START)),
    # --- TP_C_01..03: this connector is the consumer; the TCK triggers a transfer request
    # under agreement ATPCxxyy to the TCK (provider).
    _script("TP_C:01-01", "ATPC0101", C, "provider started, provider terminated"),
    _script("TP_C:01-02", "ATPC0102", C, "provider started, provider completed"),
    _script("TP_C:01-03", "ATPC0103", C,
            "provider started, provider suspended, provider terminated"),
    _script("TP_C:01-04", "ATPC0104", C,
            "provider started, provider suspended, provider started, provider completed"),
    _script("TP_C:01-05", "ATPC0105", C, "provider terminated"),
    _script("TP_C:02-01", "ATPC0201", C, "provider started, consumer terminated",
            (TP.STARTED, A.TERMINATE)),
    _script("TP_C:02-02", "ATPC0202", C, "provider started, consumer completed",
            (TP.STARTED, A.COMPLETE)),
    _script("TP_C:02-03", "ATPC0203", C,
            "provider started, consumer suspended, consumer terminated",
            (TP.STARTED, A.SUSPEND), (TP.SUSPENDED, A.TERMINATE)),
    _script("TP_C:02-04", "ATPC0204", C,
            "provider started, consumer suspended, consumer started, consumer completed",
            (TP.STARTED, A.SUSPEND), (TP.SUSPENDED, A.START), (TP.STARTED, A.COMPLETE)),
    _script("TP_C:02-05", "ATPC0205", C, "consumer terminated",
            (TP.REQUESTED, A.TERMINATE)),
    _script("TP_C:03-01", "ATPC0301", C, "invalid provider completed (4xx)"),
    _script("TP_C:03-02", "ATPC0302", C, "invalid provider suspended (4xx)"),
    _script("TP_C:03-03", "ATPC0303", C,
            "provider started, provider suspended, invalid provider completed (4xx)"),
    _script("TP_C:03-04", "ATPC0304", C,
            "provider started, provider terminated, invalid provider started (4xx)"),
    _script("TP_C:03-05", "ATPC0305", C,
            "provider started, provider terminated, invalid provider suspended (4xx)"),
    _script("TP_C:03-06", "ATPC0306", C,
            "provider started, provider terminated, invalid provider completed (4xx)"),
)  # fmt: skip

#: Negotiation scripts by dataset id (``ACNxxyy`` provider side, ``ACNCxxyy`` consumer side).
NEGOTIATIONS: dict[str, Script] = {s.key: s for s in _NEGOTIATIONS}
#: Transfer scripts by agreement id (``ATPxxyy`` provider side, ``ATPCxxyy`` consumer side).
TRANSFERS: dict[str, Script] = {s.key: s for s in _TRANSFERS}

#: Datasets the catalog cases ask for: CAT:01-01 and 01-02 find theirs, CAT:01-03 must not.
CATALOG_DATASETS = {"CAT:01-01": "CAT0101", "CAT:01-02": "CAT0102"}
CATALOG_MISSING = {"CAT:01-03": "CAT0103"}

#: The data-transfer format every TP/TP_C case is configured with.
TCK_FORMAT = "HttpData-PULL"


def provider_datasets() -> list[str]:
    return [s.key for s in _NEGOTIATIONS if s.role is P]


def provider_agreements() -> list[str]:
    return [s.key for s in _TRANSFERS if s.role is P]


def consumer_agreements() -> list[str]:
    return [s.key for s in _TRANSFERS if s.role is C]


def all_scripts() -> list[Script]:
    return [*_NEGOTIATIONS, *_TRANSFERS]
