"""The provider's catalog: datasets and offers derived from assets and contract definitions."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from typing import Any

from twinspace.connector.errors import ProtocolError
from twinspace.connector.ids import canonical_json, offer_id, parse_offer_id
from twinspace.protocol.schemas import DSPACE_CONTEXT
from twinspace.store import Asset, ContractDefinition, Tx

Json = dict[str, Any]

#: Distribution formats this connector's data plane serves for every asset.
FORMATS = ("HttpData-PULL", "HttpData-PUSH")
#: The twin's stream: changes of an ``NgsiLdQuery`` asset pushed as NGSI-LD notifications.
TWIN_PUSH = "NgsiLd-PUSH"
RULE_KEYS = ("permission", "prohibition", "obligation")
EDC_NS = "https://w3id.org/edc/v0.0.1/ns/"


def address_type(address: Json) -> str:
    """A data address's ``type`` (EDC also writes it as ``@type`` or in its namespace)."""
    for key in ("type", "@type", EDC_NS + "type"):
        value = address.get(key)
        if isinstance(value, str) and value:
            return value
    return ""


def _asset_value(asset: Asset, path: str) -> Any:
    key = path.removeprefix(EDC_NS)
    if key == "id":
        return asset.id
    props = asset.properties
    return props.get(key, props.get(EDC_NS + key))


def selects(selector: list[Json], asset: Asset) -> bool:
    """EDC-style asset selector: every criterion must hold; an empty selector selects all."""
    for criterion in selector:
        left = _asset_value(asset, str(criterion.get("operandLeft", "")))
        op = str(criterion.get("operator", "="))
        right = criterion.get("operandRight")
        if op == "=" and left != right:
            return False
        if op == "!=" and left == right:
            return False
        if op == "in" and (not isinstance(right, list) or left not in right):
            return False
        if op == "like" and not fnmatch.fnmatchcase(str(left), str(right).replace("%", "*")):
            return False
        if op not in ("=", "!=", "in", "like"):
            return False
    return True


def policy_rules(policy: Json) -> Json:
    """The rule part of an ODRL policy (what must be equal for two policies to match)."""
    return {k: policy[k] for k in RULE_KEYS if policy.get(k)}


def make_offer(definition: ContractDefinition, asset: Asset, policy: Json) -> Json:
    offer: Json = {"@id": offer_id(definition.id, asset.id), "@type": "Offer"}
    offer.update(policy_rules(policy))
    if "permission" not in offer and "prohibition" not in offer:
        offer["permission"] = [{"action": "use"}]
    return offer


#: Decides from an access policy whether the caller may see an offer.
Visible = Callable[[Json], bool]


class Catalog:
    """Builds DSP Catalog/Dataset documents and resolves offers for negotiation."""

    def __init__(
        self, participant_id: str, dsp_url: str, kinds: dict[str, Any] | None = None
    ) -> None:
        self.participant_id = participant_id
        self.dsp_url = dsp_url
        self.service_id = "urn:twinspace:dataservice"
        #: Data-plane extensions (``context.AssetKind``) by lower-case data-address type.
        self.kinds: dict[str, Any] = {} if kinds is None else kinds

    def kind_of(self, asset: Asset) -> Any:
        """The extension serving ``asset`` (None: a generic File/HttpData asset)."""
        return self.kinds.get(address_type(asset.data_address).lower())

    def formats_for(self, asset: Asset) -> tuple[str, ...]:
        """The distribution formats offered for ``asset``."""
        kind = self.kind_of(asset)
        extra: tuple[str, ...] = () if kind is None else tuple(kind.formats(asset.data_address))
        return FORMATS + extra

    def known_formats(self) -> tuple[str, ...]:
        """Every format some asset of this connector may be offered in."""
        extra = {TWIN_PUSH} if self.kinds else set()
        return FORMATS + tuple(sorted(extra))

    def refusal(self, asset: Asset, fmt: str) -> str | None:
        """Why ``asset`` cannot be transferred in ``fmt`` (None: it can)."""
        kind = self.kind_of(asset)
        if kind is not None:
            refused: str | None = kind.refusal(asset, fmt)
            return refused
        if fmt not in FORMATS:
            shown = address_type(asset.data_address) or "no type"
            return (
                f"format {fmt!r} is only offered for twin (NgsiLdQuery) assets; asset "
                f"{asset.id!r} is of type {shown!r} (use one of {', '.join(FORMATS)})"
            )
        return None

    def _service(self) -> Json:
        return {"@id": self.service_id, "@type": "DataService", "endpointURL": self.dsp_url}

    def offers_for(self, tx: Tx, asset: Asset, visible: Visible | None = None) -> list[Json]:
        """The offers for ``asset``; with ``visible``, only those whose access policy lets the
        caller see them (a definition whose access policy is missing is not shown)."""
        offers = []
        for definition in tx.contract_definitions.list():
            if not selects(definition.assets_selector, asset):
                continue
            if visible is not None:
                access = tx.policies.find(definition.access_policy_id)
                if access is None or not visible(access.policy):
                    continue
            policy = tx.policies.find(definition.contract_policy_id)
            if policy is not None:
                offers.append(make_offer(definition, asset, policy.policy))
        return offers

    def dataset(self, tx: Tx, asset: Asset, visible: Visible | None = None) -> Json | None:
        offers = self.offers_for(tx, asset, visible)
        if not offers:
            return None
        doc: Json = {"@id": asset.id, "@type": "Dataset", "hasPolicy": offers}
        for key, value in asset.properties.items():
            short = key.removeprefix(EDC_NS)
            if short not in ("id", "@id", "@type", "hasPolicy", "distribution"):
                doc[short] = value
        doc["distribution"] = [
            {"@type": "Distribution", "format": fmt, "accessService": self.service_id}
            for fmt in self.formats_for(asset)
        ]
        return doc

    def datasets(self, tx: Tx, visible: Visible | None = None) -> list[Json]:
        found = []
        for asset in tx.assets.list():
            ds = self.dataset(tx, asset, visible)
            if ds is not None:
                found.append(ds)
        return found

    def catalog(self, datasets: list[Json]) -> Json:
        return {
            "@context": [DSPACE_CONTEXT],
            "@id": f"urn:twinspace:catalog:{self.participant_id}",
            "@type": "Catalog",
            "participantId": self.participant_id,
            "service": [self._service()],
            "dataset": datasets,
        }

    def access_policy_of(self, tx: Tx, offer_id: str) -> Json | None:
        """The access policy of the contract definition behind ``offer_id`` (None: unknown)."""
        parsed = parse_offer_id(offer_id)
        definition = tx.contract_definitions.find(parsed[0]) if parsed else None
        policy = tx.policies.find(definition.access_policy_id) if definition else None
        return None if policy is None else dict(policy.policy)

    def resolve_offer(
        self, tx: Tx, offer: Json, area: str = "negotiation", **pids: str | None
    ) -> Json:
        """Our offer that ``offer`` (from a request) refers to; ProtocolError if none matches.

        The request must name one of our offers by ``@id``; if it carries rules they must equal
        that offer's rules (the policy engine will later decide acceptability more finely).
        """
        oid = str(offer.get("@id", ""))
        parsed = parse_offer_id(oid)
        definition = tx.contract_definitions.find(parsed[0]) if parsed else None
        asset = tx.assets.find(parsed[1]) if parsed else None
        if parsed is None or definition is None or asset is None:
            raise ProtocolError(area, 400, "UNKNOWN_OFFER", f"unknown offer {oid!r}", **pids)
        target = offer.get("target")
        if target is not None and target != asset.id:
            raise ProtocolError(
                area,
                400,
                "TARGET_MISMATCH",
                f"offer {oid!r} is for {asset.id!r}, not {target!r}",
                **pids,
            )
        if not selects(definition.assets_selector, asset):
            raise ProtocolError(area, 400, "UNKNOWN_OFFER", f"offer {oid!r} is withdrawn", **pids)
        policy = tx.policies.find(definition.contract_policy_id)
        if policy is None:
            raise ProtocolError(area, 400, "UNKNOWN_OFFER", f"offer {oid!r} has no policy", **pids)
        ours = make_offer(definition, asset, policy.policy)
        theirs = policy_rules(offer)
        if theirs and canonical_json(theirs) != canonical_json(policy_rules(ours)):
            raise ProtocolError(
                area,
                400,
                "OFFER_MISMATCH",
                f"offer {oid!r} differs from the provider's offer",
                **pids,
            )
        ours["target"] = asset.id
        return ours
