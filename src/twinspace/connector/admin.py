"""Management of what a provider offers: assets, policy definitions, contract definitions.

Each function takes a compacted request body (``jsonld.body_of``) and answers in EDC's shapes
(``views``); problems raise ``ManagementError`` (400 invalid, 404 unknown id, 409 conflict).
Everything here is blocking store work: the API runs it in a threadpool.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from twinspace.connector import views
from twinspace.connector.catalog import EDC_NS
from twinspace.connector.context import Context, retry_on_conflict
from twinspace.connector.errors import ManagementError
from twinspace.connector.jsonld import normalize_policy, policy_problems
from twinspace.connector.query import QuerySpec, apply, parse_criterion
from twinspace.store import (
    AlreadyExists,
    Asset,
    ContractDefinition,
    NotFound,
    PolicyDefinition,
    Tx,
)

Json = dict[str, Any]
MAX_ID = 512
SELECTOR_OPERATORS = ("=", "!=", "in", "like")


def invalid(message: str) -> ManagementError:
    return ManagementError(400, message, "ValidationFailure")


def not_found(what: str, record_id: str) -> ManagementError:
    return ManagementError(404, f"{what} {record_id!r} not found", "ObjectNotFound")


def conflict(message: str) -> ManagementError:
    return ManagementError(409, message, "ObjectConflict")


def text(body: Json, key: str, *, required: bool = True, where: str = "") -> str | None:
    """A non-empty string field of ``body`` (400 when missing/wrong and ``required``)."""
    value = body.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise invalid(f"{where}{key} is required and must be a non-empty string (got {value!r})")
    return value


def record_id(body: Json, *, generate: bool) -> str:
    value = body.get("@id", body.get("id"))
    if value is None and generate:
        return str(uuid.uuid4())
    if not isinstance(value, str) or not value.strip():
        raise invalid(f"@id must be a non-empty string (got {value!r})")
    if len(value) > MAX_ID:
        raise invalid(f"@id is longer than {MAX_ID} characters")
    return value


def obj(body: Json, key: str, *, required: bool) -> Json:
    value = body.get(key)
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise invalid(f"{key} is required and must be a JSON object (got {value!r})")
    return value


def _now(ctx: Context) -> datetime:
    return ctx.clock.now()


# --- assets ------------------------------------------------------------------------------------


def _asset(ctx: Context, body: Json, *, generate: bool) -> Asset:
    asset_id = record_id(body, generate=generate)
    properties = obj(body, "properties", required=False)
    private = obj(body, "privateProperties", required=False)
    address = {k: v for k, v in obj(body, "dataAddress", required=True).items() if k != "@type"}
    kind = str(text(address, "type", where="dataAddress."))
    extension = ctx.kinds.get(kind.lower())
    if extension is not None:
        try:
            extension.check(address)
        except ValueError as exc:
            raise invalid(f"dataAddress ({kind}): {exc}") from None
    elif kind.lower() == "ngsildquery":
        raise invalid(
            "dataAddress type NgsiLdQuery needs the twin, which this connector does not run"
        )
    return Asset(asset_id, dict(properties), address, dict(private), _now(ctx))


def create_asset(ctx: Context, body: Json) -> Json:
    asset = _asset(ctx, body, generate=True)
    _insert(ctx, lambda tx: tx.assets.insert(asset), "asset", asset.id)
    return views.id_response(asset.id, asset.created_at)


def _streams_follow(ctx: Context, tx: Tx, asset: Asset) -> None:
    """The running streams of a changed asset take its new definition (query, view) at once."""
    from twinspace.connector.catalog import TWIN_PUSH
    from twinspace.protocol.machine import Role
    from twinspace.store import tables

    extension = ctx.catalog.kind_of(asset)
    if extension is None:
        return
    c = tables.transfers.c
    running = tx.transfers.list(
        c.asset_id == asset.id, c.role == Role.PROVIDER, c.format == TWIN_PUSH
    )
    for t in running:
        extension.transfer_changed(tx, t, asset, _now(ctx))


def update_asset(ctx: Context, body: Json) -> None:
    _replace(ctx, "assets", _asset(ctx, body, generate=False), "asset", after=_streams_follow)


def get_asset(ctx: Context, asset_id: str) -> Json:
    return _get(ctx, "assets", asset_id, "asset", views.asset_view)


def query_assets(ctx: Context, spec: QuerySpec) -> list[Json]:
    return _query(ctx, "assets", views.asset_view, spec)


def _names_asset(selector: list[Json], asset_id: str) -> bool:
    for c in selector:
        left = str(c.get("operandLeft", "")).removeprefix(EDC_NS)
        if left not in ("id", "@id"):
            continue
        right = c.get("operandRight")
        if (c.get("operator") == "=" and right == asset_id) or (
            c.get("operator") == "in" and isinstance(right, list) and asset_id in right
        ):
            return True
    return False


def delete_asset(ctx: Context, asset_id: str) -> None:
    with ctx.store.transaction() as tx:
        if tx.assets.find(asset_id) is None:
            raise not_found("asset", asset_id)
        users = [
            d.id
            for d in tx.contract_definitions.list()
            if _names_asset(d.assets_selector, asset_id)
        ]
        if users:
            raise conflict(
                f"asset {asset_id!r} is referenced by contract definition(s) {', '.join(users)}"
            )
        agreements = tx.agreements.list(tx.agreements.table.c.asset_id == asset_id, limit=5)
        if agreements:
            names = ", ".join(a.id for a in agreements)
            raise conflict(f"asset {asset_id!r} is referenced by contract agreement(s) {names}")
        tx.assets.delete(asset_id)


# --- policy definitions ------------------------------------------------------------------------


def _policy(ctx: Context, body: Json, *, generate: bool) -> PolicyDefinition:
    policy_id = record_id(body, generate=generate)
    policy = normalize_policy(obj(body, "policy", required=True))
    problems = policy_problems(policy)
    if problems:
        raise invalid("; ".join(problems))
    from twinspace.usage.admin import check_definition  # usage builds on the connector

    check_definition(policy)  # the ODRL engine: unsupported or invalid parts refused now
    policy.pop("@id", None)  # the definition's id names it
    if policy.get("@type") == "Set":
        del policy["@type"]
    return PolicyDefinition(policy_id, policy, _now(ctx))


def create_policy(ctx: Context, body: Json) -> Json:
    policy = _policy(ctx, body, generate=True)
    _insert(ctx, lambda tx: tx.policies.insert(policy), "policy definition", policy.id)
    return views.id_response(policy.id, policy.created_at)


def update_policy(ctx: Context, body: Json) -> None:
    _replace(ctx, "policies", _policy(ctx, body, generate=False), "policy definition")


def get_policy(ctx: Context, policy_id: str) -> Json:
    return _get(ctx, "policies", policy_id, "policy definition", views.policy_view)


def query_policies(ctx: Context, spec: QuerySpec) -> list[Json]:
    return _query(ctx, "policies", views.policy_view, spec)


def delete_policy(ctx: Context, policy_id: str) -> None:
    with ctx.store.transaction() as tx:
        if tx.policies.find(policy_id) is None:
            raise not_found("policy definition", policy_id)
        users = [
            d.id
            for d in tx.contract_definitions.list()
            if policy_id in (d.access_policy_id, d.contract_policy_id)
        ]
        if users:
            raise conflict(
                f"policy definition {policy_id!r} is referenced by contract definition(s) "
                + ", ".join(users)
            )
        tx.policies.delete(policy_id)


# --- contract definitions ----------------------------------------------------------------------


def _selector(body: Json) -> list[Json]:
    raw = body.get("assetsSelector", [])
    if isinstance(raw, dict):
        raw = [raw]
    if not isinstance(raw, list):
        raise invalid("assetsSelector must be a list of criteria")
    selector = []
    for item in raw:
        c = parse_criterion(item, "assetsSelector")
        if c.operator not in SELECTOR_OPERATORS:
            raise invalid(
                f"assetsSelector: operator {c.operator!r} is not supported here "
                f"(use one of {', '.join(SELECTOR_OPERATORS)})"
            )
        selector.append({"operandLeft": c.left, "operator": c.operator, "operandRight": c.right})
    return selector


def _definition(ctx: Context, body: Json, *, generate: bool) -> ContractDefinition:
    definition_id = record_id(body, generate=generate)
    access = text(body, "accessPolicyId")
    contract = text(body, "contractPolicyId")
    assert access is not None and contract is not None
    return ContractDefinition(definition_id, access, contract, _selector(body), _now(ctx))


def _check_policies(tx: Tx, d: ContractDefinition) -> None:
    for key, policy_id in (
        ("accessPolicyId", d.access_policy_id),
        ("contractPolicyId", d.contract_policy_id),
    ):
        if tx.policies.find(policy_id) is None:
            raise invalid(f"{key} {policy_id!r} names no policy definition")


def create_contract_definition(ctx: Context, body: Json) -> Json:
    d = _definition(ctx, body, generate=True)

    def insert(tx: Tx) -> None:
        _check_policies(tx, d)
        tx.contract_definitions.insert(d)

    _insert(ctx, insert, "contract definition", d.id)
    return views.id_response(d.id, d.created_at)


def update_contract_definition(ctx: Context, body: Json) -> None:
    d = _definition(ctx, body, generate=False)
    _replace(ctx, "contract_definitions", d, "contract definition", check=_check_policies)


def get_contract_definition(ctx: Context, definition_id: str) -> Json:
    view = views.contract_definition_view
    return _get(ctx, "contract_definitions", definition_id, "contract definition", view)


def query_contract_definitions(ctx: Context, spec: QuerySpec) -> list[Json]:
    return _query(ctx, "contract_definitions", views.contract_definition_view, spec)


def delete_contract_definition(ctx: Context, definition_id: str) -> None:
    with ctx.store.transaction() as tx:
        try:
            tx.contract_definitions.delete(definition_id)
        except NotFound:
            raise not_found("contract definition", definition_id) from None


# --- shared ------------------------------------------------------------------------------------


def _insert(ctx: Context, write: Callable[[Tx], None], what: str, key: str) -> None:
    def run() -> None:
        with ctx.store.transaction() as tx:
            write(tx)

    try:
        retry_on_conflict(run)
    except AlreadyExists:
        raise conflict(f"{what} {key!r} already exists") from None


def _replace(
    ctx: Context,
    rows: str,
    record: Any,
    what: str,
    check: Callable[[Tx, Any], None] | None = None,
    after: Callable[[Context, Tx, Any], None] | None = None,
) -> None:
    """Overwrite an existing definition (404 if unknown), keeping its creation time."""
    with ctx.store.transaction() as tx:
        old = getattr(tx, rows).find(record.id)
        if old is None:
            raise not_found(what, record.id)
        if check is not None:
            check(tx, record)
        record.created_at = old.created_at
        getattr(tx, rows).replace(record)
        if after is not None:
            after(ctx, tx, record)


def _get(ctx: Context, rows: str, key: str, what: str, view: Callable[[Any], Json]) -> Json:
    with ctx.store.transaction() as tx:
        found = getattr(tx, rows).find(key)
    if found is None:
        raise not_found(what, key)
    return view(found)


def _query(ctx: Context, rows: str, view: Callable[[Any], Json], spec: QuerySpec) -> list[Json]:
    with ctx.store.transaction() as tx:
        docs = [view(r) for r in getattr(tx, rows).list()]
    return apply(docs, spec)
