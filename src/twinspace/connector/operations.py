"""Management of processes: contract negotiations, agreements, transfer processes and EDRs.

Each function takes the connector and a compacted body (``jsonld.body_of``) or a path id and
answers in EDC's shapes (``views``). Blocking store work: the API runs these in a threadpool and
wakes the outbound manager after anything that queued a message.
"""

from __future__ import annotations

from typing import Any

from twinspace.connector import views
from twinspace.connector.admin import invalid, not_found, obj, text
from twinspace.connector.catalog import TWIN_PUSH
from twinspace.connector.context import retry_on_conflict
from twinspace.connector.errors import ManagementError
from twinspace.connector.jsonld import normalize_policy, with_context
from twinspace.connector.processes import INITIAL
from twinspace.connector.query import QuerySpec, apply
from twinspace.connector.service import Connector
from twinspace.connector.transfers import is_push, is_stream
from twinspace.protocol.machine import Role
from twinspace.protocol.negotiation import CN
from twinspace.protocol.transfer import TP, TPMessage
from twinspace.store import Negotiation, Transfer, Tx

Json = dict[str, Any]
OFFER_TYPES = ("Offer", "Set", "Policy")
#: ``POST /transferprocesses/{id}/<action>`` -> the DSP message this side sends.
TRANSFER_ACTIONS = {
    "resume": TPMessage.START,
    "suspend": TPMessage.SUSPENSION,
    "complete": TPMessage.COMPLETION,
    "terminate": TPMessage.TERMINATION,
}


def check_protocol(body: Json) -> None:
    protocol = body.get("protocol")
    if protocol is not None and protocol != views.PROTOCOL:
        raise invalid(
            f"protocol {protocol!r} is not supported; this connector speaks {views.PROTOCOL!r}"
        )


def _address(body: Json) -> str | None:
    """``counterPartyAddress`` (EDC v3) or ``connectorAddress`` (EDC v2)."""
    key = "counterPartyAddress" if "counterPartyAddress" in body else "connectorAddress"
    value = text(body, key, required=False)
    if value is not None and not value.startswith(("http://", "https://")):
        raise invalid(f"counterPartyAddress {value!r} is not an http(s) URL")
    return value


def _reason(body: Json | None) -> str:
    reason = (body or {}).get("reason")
    if reason is not None and not isinstance(reason, str):
        raise invalid(f"reason must be a string (got {reason!r})")
    return reason or ""


# --- negotiations ------------------------------------------------------------------------------


def _negotiation(tx: Tx, negotiation_id: str) -> Negotiation:
    n: Negotiation | None = tx.negotiations.find(negotiation_id)
    if n is None:
        raise not_found("contract negotiation", negotiation_id)
    return n


def _offer(body: Json) -> Json:
    offer = normalize_policy(obj(body, "policy", required=True))
    kind = offer.get("@type", "Offer")
    if kind not in OFFER_TYPES:
        raise invalid(f"policy @type must be Offer (got {kind!r})")
    offer["@type"] = "Offer"
    text(offer, "@id", where="policy.")
    if offer.get("target") is None and isinstance(body.get("assetId"), str):
        offer["target"] = body["assetId"]
    text(offer, "target", where="policy.")
    return offer


def start_negotiation(connector: Connector, body: Json) -> Json:
    check_protocol(body)
    address = _address(body)
    if address is None:
        raise invalid("counterPartyAddress is required (the provider's DSP endpoint)")
    offer = _offer(body)
    counter_party = text(body, "counterPartyId", required=False)
    assigner = offer.get("assigner")
    n = connector.negotiations.initiate(
        counter_party_address=address,
        offer=offer,
        counter_party_id=counter_party or (assigner if isinstance(assigner, str) else None),
    )
    return views.id_response(n.id, n.created_at)


def _negotiation_doc(tx: Tx, n: Negotiation) -> Json:
    doc = views.negotiation_view(n, tx.outbox.latest_for(n.id))
    if n.agreement_id:
        doc["transparencyLog"] = log_status(tx, n.agreement_id, "agreement")
    return doc


def query_negotiations(connector: Connector, spec: QuerySpec) -> list[Json]:
    with connector.store.transaction() as tx:
        docs = [_negotiation_doc(tx, n) for n in tx.negotiations.list()]
    return apply(docs, spec)


def get_negotiation(connector: Connector, negotiation_id: str) -> Json:
    with connector.store.transaction() as tx:
        return _negotiation_doc(tx, _negotiation(tx, negotiation_id))


def negotiation_state(connector: Connector, negotiation_id: str) -> Json:
    with connector.store.transaction() as tx:
        state = _negotiation(tx, negotiation_id).state
    return with_context({"@type": "NegotiationState", "state": state})


def negotiation_agreement(connector: Connector, negotiation_id: str) -> Json:
    with connector.store.transaction() as tx:
        n = _negotiation(tx, negotiation_id)
        agreement = tx.agreements.find(n.agreement_id) if n.agreement_id else None
    if agreement is None:
        raise ManagementError(
            404,
            f"contract negotiation {negotiation_id!r} has no agreement (state {n.state})",
            "ObjectNotFound",
        )
    return views.agreement_view(agreement)


def terminate_negotiation(connector: Connector, negotiation_id: str, body: Json | None) -> None:
    reason = _reason(body)
    if _abort_unacknowledged(connector, "negotiation", negotiation_id, reason):
        return
    connector.negotiations.terminate(negotiation_id, reason)


def _abort_unacknowledged(connector: Connector, kind: str, process_id: str, reason: str) -> bool:
    """Terminate locally a process whose first message the counter-party never acknowledged
    (there is nobody to tell yet); False if the process has gone further."""

    def run() -> bool:
        now = connector.ctx.clock.now()
        with connector.store.transaction() as tx:
            rows = tx.negotiations if kind == "negotiation" else tx.transfers
            process: Negotiation | Transfer | None = rows.find(process_id)
            if process is None:
                what = "contract negotiation" if kind == "negotiation" else "transfer process"
                raise not_found(what, process_id)
            if process.state != INITIAL:
                return False
            detail = "terminated by user before the counter-party acknowledged the request"
            process.error_detail = detail + (f": {reason}" if reason else "")
            process.state = CN.TERMINATED if kind == "negotiation" else TP.TERMINATED
            process.updated_at = now
            tx.outbox.cancel_pending(process.id, detail)
            rows.update_versioned(process)
            return True

    return retry_on_conflict(run)


# --- agreements --------------------------------------------------------------------------------


def query_agreements(connector: Connector, spec: QuerySpec) -> list[Json]:
    with connector.store.transaction() as tx:
        docs = [views.agreement_view(a) for a in tx.agreements.list()]
    return apply(docs, spec)


def get_agreement(connector: Connector, agreement_id: str) -> Json:
    with connector.store.transaction() as tx:
        found = tx.agreements.find(agreement_id)
    if found is None:
        raise not_found("contract agreement", agreement_id)
    return views.agreement_view(found)


def agreement_negotiation(connector: Connector, agreement_id: str) -> Json:
    with connector.store.transaction() as tx:
        agreement = tx.agreements.find(agreement_id)
        if agreement is None:
            raise not_found("contract agreement", agreement_id)
        return _negotiation_doc(tx, _negotiation(tx, agreement.negotiation_id))


# --- transfers ---------------------------------------------------------------------------------


def _transfer(tx: Tx, transfer_id: str) -> Transfer:
    t: Transfer | None = tx.transfers.find(transfer_id)
    if t is None:
        raise not_found("transfer process", transfer_id)
    return t


def _destination(body: Json, transfer_type: str) -> Json | None:
    """The DSP data address a push transfer delivers to (None for pull: the provider gives one)."""
    raw = body.get("dataDestination")
    if raw is None or not is_push(transfer_type):
        if raw is not None and not isinstance(raw, dict):
            raise invalid("dataDestination must be a JSON object")
        return None
    if not isinstance(raw, dict):
        raise invalid("dataDestination must be a JSON object")
    address = views.dsp_data_address(raw)
    if not str(address.get("endpoint", "")).startswith(("http://", "https://")):
        raise invalid("dataDestination of a push transfer needs an http(s) endpoint (or baseUrl)")
    return address


def start_transfer(connector: Connector, body: Json) -> Json:
    check_protocol(body)
    agreement_id = text(body, "contractId")
    transfer_type = text(body, "transferType")
    assert agreement_id is not None and transfer_type is not None
    formats = connector.ctx.catalog.known_formats()
    if transfer_type not in formats:
        raise invalid(f"transferType {transfer_type!r} is not supported; use {', '.join(formats)}")
    tenant = text(body, "tenant", required=False) or ""
    if tenant and not is_stream(transfer_type):
        raise invalid(f"tenant is only for {TWIN_PUSH} transfers (received into this twin)")
    address = _address(body)
    with connector.store.transaction() as tx:
        agreement = tx.agreements.find(agreement_id)
        n = tx.negotiations.find(agreement.negotiation_id) if agreement else None
    if agreement is None or n is None:
        raise invalid(f"contractId {agreement_id!r} names no contract agreement")
    if n.role != Role.CONSUMER:
        raise invalid(f"contract agreement {agreement_id!r} was made as provider, not consumer")
    t = connector.transfers.initiate(
        counter_party_address=address or n.counter_party_address,
        agreement_id=agreement_id,
        format_=transfer_type,
        data_destination=None if is_stream(transfer_type) else _destination(body, transfer_type),
        purpose=text(body, "purpose", required=False),
        tenant=tenant,
    )
    return views.id_response(t.id, t.created_at)


def _transfer_doc(tx: Tx, t: Transfer) -> Json:
    doc = views.transfer_view(t, tx.outbox.latest_for(t.id))
    doc["transparencyLog"] = log_status(tx, t.agreement_id, "transfer", transfer_id=t.id)
    return doc


def log_status(
    tx: Tx, agreement_id: str, kind: str, *, transfer_id: str | None = None
) -> Json | None:
    """Where this process's entries stand in the transparency log (None: nothing to log).
    A process is only done for its user once this says ``LOGGED``."""
    from twinspace.ledger.entries import read_entry

    mine = []
    for s in tx.log_submissions.about(agreement_id):
        if s.kind != kind:
            continue
        if transfer_id is not None and read_entry(s.entry).entry.get("transfer") != transfer_id:
            continue
        mine.append(s)
    if not mine:
        return None
    states = {s.state for s in mine}
    state = "FAILED" if "FAILED" in states else "PENDING" if "PENDING" in states else "LOGGED"
    return {
        "state": state,
        "entries": len(mine),
        "indexes": [s.leaf_index for s in mine if s.leaf_index is not None],
        "lastError": next((s.last_error for s in reversed(mine) if s.last_error), None),
    }


def query_transfers(connector: Connector, spec: QuerySpec) -> list[Json]:
    with connector.store.transaction() as tx:
        docs = [_transfer_doc(tx, t) for t in tx.transfers.list()]
    return apply(docs, spec)


def get_transfer(connector: Connector, transfer_id: str) -> Json:
    with connector.store.transaction() as tx:
        return _transfer_doc(tx, _transfer(tx, transfer_id))


def transfer_state(connector: Connector, transfer_id: str) -> Json:
    with connector.store.transaction() as tx:
        state = _transfer(tx, transfer_id).state
    return with_context({"@type": "TransferState", "state": state})


def act_on_transfer(connector: Connector, transfer_id: str, action: str, body: Json | None) -> None:
    """``resume``, ``suspend``, ``complete`` or ``terminate`` a transfer from this side."""
    reason = _reason(body)
    if action == "terminate" and _abort_unacknowledged(connector, "transfer", transfer_id, reason):
        return
    connector.transfers.act(transfer_id, TRANSFER_ACTIONS[action], reason)


# --- EDRs --------------------------------------------------------------------------------------


def edr_data_address(connector: Connector, transfer_id: str) -> Json:
    """The data address the provider sent in its TransferStartMessage, as EDC's EDR API shows it."""
    with connector.store.transaction() as tx:
        t = _transfer(tx, transfer_id)
    if t.role != Role.CONSUMER or not t.data_address:
        raise ManagementError(
            404,
            f"no EDR for transfer process {transfer_id!r} (a {t.role.lower()} transfer in state "
            f"{t.state}; the provider sends one when a pull transfer starts)",
            "ObjectNotFound",
        )
    return with_context(views.edc_data_address(t.data_address))


def query_edrs(connector: Connector, spec: QuerySpec) -> list[Json]:
    """EDC's EDR entries: one per consumer transfer that received a data address."""
    with connector.store.transaction() as tx:
        docs = []
        for t in tx.transfers.list(tx.transfers.table.c.role == Role.CONSUMER):
            if not t.data_address:
                continue
            agreement = tx.agreements.find(t.agreement_id)
            docs.append(
                with_context(
                    {
                        "@id": t.id,
                        "@type": "EndpointDataReferenceEntry",
                        "transferProcessId": t.id,
                        "agreementId": t.agreement_id,
                        "assetId": t.asset_id,
                        "providerId": t.counter_party_id,
                        "contractNegotiationId": agreement.negotiation_id if agreement else None,
                        "createdAt": views.epoch_ms(t.created_at),
                    }
                )
            )
    return apply(docs, spec)
