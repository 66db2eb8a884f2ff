"""Assets, policy definitions and contract definitions: CRUD, queries, conflicts, references."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tests.connector.harness import Node, network
from tests.management.util import V3, edc_error, get, ok, post, publish

EDC = "https://w3id.org/edc/v0.0.1/ns/"


@pytest.fixture
async def node(tmp_path: Path) -> AsyncIterator[Node]:
    async with network(tmp_path, ["provider"]) as nodes:
        yield nodes["provider"]


def asset(asset_id: str, **props: object) -> dict[str, object]:
    return {
        "@id": asset_id,
        "properties": {"name": asset_id, **props},
        "dataAddress": {"type": "HttpData", "baseUrl": f"http://backend.test/{asset_id}"},
    }


async def test_asset_crud(node: Node) -> None:
    created = ok(await post(node, "/assets", asset("a1", version="1")))
    assert created["@type"] == "IdResponse" and created["@id"] == "a1"
    assert isinstance(created["createdAt"], int)

    found = ok(await get(node, "/assets/a1"))
    assert found["@type"] == "Asset"
    assert found["@context"] == {"@vocab": EDC}
    assert found["properties"] == {"name": "a1", "version": "1"}
    assert found["dataAddress"] == {
        "@type": "DataAddress",
        "type": "HttpData",
        "baseUrl": "http://backend.test/a1",
    }
    assert found["createdAt"] == created["createdAt"]

    changed = asset("a1", version="2")
    ok(await node.client.put(V3 + "/assets", json=changed), 204)
    again = ok(await get(node, "/assets/a1"))
    assert again["properties"]["version"] == "2"
    assert again["createdAt"] == created["createdAt"]

    ok(await node.client.delete(V3 + "/assets/a1"), 204)
    edc_error(await get(node, "/assets/a1"), 404, "not found")
    edc_error(await node.client.delete(V3 + "/assets/a1"), 404)
    edc_error(await node.client.put(V3 + "/assets", json=changed), 404)


async def test_asset_id_generated_and_conflict(node: Node) -> None:
    body = asset("x")
    del body["@id"]
    created = ok(await post(node, "/assets", body))
    assert created["@id"]
    ok(await get(node, f"/assets/{created['@id']}"))
    ok(await post(node, "/assets", asset("dup")))
    assert edc_error(await post(node, "/assets", asset("dup")), 409, "already exists")
    assert (await post(node, "/assets", asset("dup"))).json()[0]["type"] == "ObjectConflict"


async def test_asset_needs_data_address_type(node: Node) -> None:
    body = asset("a")
    body["dataAddress"] = {"baseUrl": "http://x"}
    edc_error(await post(node, "/assets", body), 400, "dataAddress.type")
    del body["dataAddress"]
    edc_error(await post(node, "/assets", body), 400, "dataAddress")
    body["dataAddress"] = "http://x"
    edc_error(await post(node, "/assets", body), 400, "dataAddress")
    bad = asset("a")
    bad["properties"] = ["not", "an", "object"]
    edc_error(await post(node, "/assets", bad), 400, "properties")
    edc_error(await post(node, "/assets", {**asset("a"), "@id": 7}), 400, "@id")


async def test_asset_query(node: Node) -> None:
    for i, kind in enumerate(["traffic", "air", "traffic", "noise", "traffic"]):
        ok(await post(node, "/assets", asset(f"a{i}", kind=kind, rank=i)))

    everything = ok(await post(node, "/assets/request"))
    assert [a["@id"] for a in everything] == ["a0", "a1", "a2", "a3", "a4"]

    traffic = ok(
        await post(
            node,
            "/assets/request",
            {
                "filterExpression": [
                    {"operandLeft": "kind", "operator": "=", "operandRight": "traffic"}
                ],
                "sortField": "rank",
                "sortOrder": "DESC",
            },
        )
    )
    assert [a["@id"] for a in traffic] == ["a4", "a2", "a0"]

    page = ok(await post(node, "/assets/request", {"offset": 1, "limit": 2, "sortField": "id"}))
    assert [a["@id"] for a in page] == ["a1", "a2"]

    # EDC's JSON-LD form: namespaced keys and operands, a dotted path, other operators
    named = ok(
        await post(
            node,
            "/assets/request",
            {
                "@context": {"@vocab": EDC},
                "@type": "QuerySpec",
                "filterExpression": [
                    {
                        "operandLeft": EDC + "id",
                        "operator": "in",
                        "operandRight": ["a1", "a3", "zz"],
                    },
                    {"edc:operandLeft": "properties.rank", "edc:operator": ">", "operandRight": 1},
                ],
            },
        )
    )
    assert [a["@id"] for a in named] == ["a3"]
    liked = ok(
        await post(
            node,
            "/assets/request",
            {
                "filterExpression": [
                    {"operandLeft": "kind", "operator": "like", "operandRight": "n%"}
                ]
            },
        )
    )
    assert [a["@id"] for a in liked] == ["a3"]


async def test_query_spec_errors(node: Node) -> None:
    for bad, word in [
        ({"limit": "ten"}, "limit"),
        ({"offset": -1}, "offset"),
        ({"sortOrder": "UP"}, "sortOrder"),
        ({"filterExpression": [{"operandLeft": "x", "operator": "~", "operandRight": 1}]}, "~"),
        ({"filterExpression": "id=1"}, "filterExpression"),
        ({"filterExpression": [{"operator": "="}]}, "operandLeft"),
        ({"filterExpression": [{"operandLeft": "x", "operator": "in", "operandRight": 1}]}, "in"),
    ]:
        edc_error(await post(node, "/assets/request", bad), 400, word)


async def test_policy_definitions(node: Node) -> None:
    policy = {
        "@context": "http://www.w3.org/ns/odrl.jsonld",
        "@type": "Set",
        "permission": [
            {
                "action": "use",
                "constraint": [
                    {"leftOperand": "purpose", "operator": "eq", "rightOperand": "planning"}
                ],
            }
        ],
    }
    created = ok(await post(node, "/policydefinitions", {"@id": "p1", "policy": policy}))
    assert created["@id"] == "p1"
    found = ok(await get(node, "/policydefinitions/p1"))
    assert found["@type"] == "PolicyDefinition"
    assert found["policy"]["@type"] == "Set"
    assert found["policy"]["permission"] == policy["permission"]
    edc_error(await post(node, "/policydefinitions", {"@id": "p1", "policy": policy}), 409)

    changed = {"@id": "p1", "policy": {"prohibition": [{"action": "distribute"}]}}
    ok(await node.client.put(V3 + "/policydefinitions", json=changed), 204)
    again = ok(await get(node, "/policydefinitions/p1"))
    assert again["policy"] == {"@type": "Set", "prohibition": [{"action": "distribute"}]}

    listed = ok(
        await post(
            node,
            "/policydefinitions/request",
            {"filterExpression": [{"operandLeft": "@id", "operator": "=", "operandRight": "p1"}]},
        )
    )
    assert [p["@id"] for p in listed] == ["p1"]
    ok(await node.client.delete(V3 + "/policydefinitions/p1"), 204)
    edc_error(await get(node, "/policydefinitions/p1"), 404)


async def test_policy_must_be_odrl(node: Node) -> None:
    for policy, word in [
        ("use", "policy"),
        ({"@type": "Dataset"}, "@type"),
        ({"permission": "use"}, "permission[0]"),
        ({"permission": [{"constraint": []}]}, "action"),
        ({"obligation": [{"action": 5}]}, "action"),
        ({"permission": [{"action": "use", "constraint": ["x"]}]}, "constraint"),
    ]:
        edc_error(await post(node, "/policydefinitions", {"@id": "p", "policy": policy}), 400, word)
    edc_error(await post(node, "/policydefinitions", {"@id": "p"}), 400, "policy")


async def test_contract_definitions_reference_policies(node: Node) -> None:
    ok(await post(node, "/assets", asset("a1")))
    ok(await post(node, "/policydefinitions", {"@id": "p1", "policy": {}}))
    body = {
        "@id": "cd1",
        "accessPolicyId": "p1",
        "contractPolicyId": "missing",
        "assetsSelector": [{"operandLeft": "id", "operator": "=", "operandRight": "a1"}],
    }
    edc_error(await post(node, "/contractdefinitions", body), 400, "contractPolicyId", "missing")
    body["contractPolicyId"] = "p1"
    ok(await post(node, "/contractdefinitions", body))
    found = ok(await get(node, "/contractdefinitions/cd1"))
    assert found["@type"] == "ContractDefinition"
    assert found["assetsSelector"] == [
        {"@type": "Criterion", "operandLeft": "id", "operator": "=", "operandRight": "a1"}
    ]
    edc_error(await post(node, "/contractdefinitions", body), 409, "already exists")
    edc_error(
        await node.client.put(V3 + "/contractdefinitions", json={**body, "accessPolicyId": "nope"}),
        400,
        "accessPolicyId",
    )
    bad_selector = {
        **body,
        "@id": "cd2",
        "assetsSelector": [{"operandLeft": "id", "operator": "<"}],
    }
    edc_error(await post(node, "/contractdefinitions", bad_selector), 400, "operator")

    # referenced things cannot be deleted
    edc_error(await node.client.delete(V3 + "/policydefinitions/p1"), 409, "cd1")
    edc_error(await node.client.delete(V3 + "/assets/a1"), 409, "cd1")
    listed = ok(await post(node, "/contractdefinitions/request", {}))
    assert [d["@id"] for d in listed] == ["cd1"]
    ok(await node.client.delete(V3 + "/contractdefinitions/cd1"), 204)
    edc_error(await node.client.delete(V3 + "/contractdefinitions/cd1"), 404)
    ok(await node.client.delete(V3 + "/policydefinitions/p1"), 204)
    ok(await node.client.delete(V3 + "/assets/a1"), 204)


async def test_agreement_keeps_its_asset(tmp_path: Path) -> None:
    from tests.management.util import negotiate

    data = tmp_path / "d.csv"
    data.write_text("x\n")
    async with network(tmp_path, ["provider", "consumer"]) as nodes:
        p, c = nodes["provider"], nodes["consumer"]
        await publish(p, "d", data)
        await negotiate(c, p, "d")
        ok(await p.client.delete(V3 + "/contractdefinitions/cd-d"), 204)
        edc_error(await p.client.delete(V3 + "/assets/d"), 409, "agreement")


async def test_json_ld_bodies(node: Node) -> None:
    """EDC's JSON-LD style: prefixed or namespaced keys, typed nodes, a context's own prefixes."""
    ok(
        await post(
            node,
            "/assets",
            {
                "@context": {"@vocab": EDC, "edc": EDC, "dct": "http://purl.org/dc/terms/"},
                "@type": "Asset",
                "@id": "ld-asset",
                "properties": {"edc:name": "LD", "dct:title": "Counts"},
                EDC + "dataAddress": {"@type": "DataAddress", "edc:type": "HttpData"},
            },
        )
    )
    found = ok(await get(node, "/assets/ld-asset"))
    assert found["properties"] == {"name": "LD", "dct:title": "Counts"}
    assert found["dataAddress"]["type"] == "HttpData"

    ok(
        await post(
            node,
            "/policydefinitions",
            {
                "@context": {"@vocab": EDC, "o": "http://www.w3.org/ns/odrl/2/"},
                "@id": "ld-policy",
                "edc:policy": {
                    "@type": "o:Set",
                    "o:permission": {"o:action": {"@id": "o:use"}},
                    "o:prohibition": [],
                },
            },
        )
    )
    policy = ok(await get(node, "/policydefinitions/ld-policy"))["policy"]
    assert policy == {"@type": "Set", "permission": [{"action": "use"}]}

    ok(
        await post(
            node,
            "/contractdefinitions",
            {
                "@context": {"edc": EDC},
                "@id": "ld-cd",
                "edc:accessPolicyId": "ld-policy",
                "edc:contractPolicyId": "ld-policy",
                "edc:assetsSelector": {
                    "@type": "Criterion",
                    "edc:operandLeft": EDC + "id",
                    "edc:operator": "=",
                    "edc:operandRight": "ld-asset",
                },
            },
        )
    )
    cd = ok(await get(node, "/contractdefinitions/ld-cd"))
    assert cd["assetsSelector"][0]["operandLeft"] == "id"
    # the asset is offered in the catalog under the definition
    catalog = ok(
        await node.client.post(
            "/dsp/catalog/request",
            json={
                "@context": ["https://w3id.org/dspace/2025/1/context.jsonld"],
                "@type": "CatalogRequestMessage",
            },
        )
    )
    assert [d["@id"] for d in catalog["dataset"]] == ["ld-asset"]
    assert catalog["dataset"][0]["hasPolicy"][0]["permission"] == [{"action": "use"}]


async def test_v4alpha_serves_the_same(node: Node) -> None:
    ok(await node.client.post("/management/v4alpha/assets", json=asset("v4")))
    v3 = ok(await get(node, "/assets/v4"))
    v4 = ok(await node.client.get("/management/v4alpha/assets/v4"))
    assert v3 == v4
