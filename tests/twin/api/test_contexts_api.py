"""@context handling over HTTP: user contexts (inline, hosted, preloaded, remote) and the
/jsonldContexts resource (CIM 009 clauses 6.3.5, 6.29)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.twin.api.conftest import (
    BASE,
    CORE_CONTEXT,
    SDM_CONTEXT,
    Broker,
    BrokerFactory,
    assert_problem,
    link,
)

EID = "urn:ngsi-ld:Room:1"
USER_TERMS = {"temperature": "https://example.org/terms/temp", "Room": "https://example.org/Room"}
UNREACHABLE = "http://127.0.0.1:9/ctx.jsonld"


def ld_json(payload: object) -> dict[str, object]:
    return {
        "content": json.dumps(payload).encode(),
        "headers": {"Content-Type": "application/ld+json"},
    }


async def host(broker: Broker, document: object) -> str:
    response = await broker.client.post(f"{BASE}/jsonldContexts", json={"@context": document})
    assert response.status_code == 201, response.text
    location: str = response.headers["Location"]
    return location


async def test_inline_context_renames_attributes(broker: Broker) -> None:
    room = {"id": EID, "type": "Room", "temperature": 21, "@context": [USER_TERMS, CORE_CONTEXT]}
    response = await broker.client.post(f"{BASE}/entities", **ld_json(room))
    assert response.status_code == 201, response.text
    core = await broker.get(EID)
    assert core["type"] == "https://example.org/Room"
    assert core["https://example.org/terms/temp"] == {"type": "Property", "value": 21}
    url = await host(broker, USER_TERMS)
    mine = await broker.get(EID, headers=link(url))
    assert mine["type"] == "Room"
    assert mine["temperature"] == {"type": "Property", "value": 21}
    query = await broker.client.get(
        f"{BASE}/entities", params={"type": "Room", "q": "temperature>20"}, headers=link(url)
    )
    assert [e["id"] for e in query.json()] == [EID]
    assert query.headers["Link"].startswith(f"<{url}>")


async def test_hosted_context_lifecycle(broker: Broker) -> None:
    url = await host(broker, USER_TERMS)
    assert url.startswith("http://twin.test/ngsi-ld/v1/jsonldContexts/")
    local_id = url.rsplit("/", 1)[1]
    listed = await broker.client.get(f"{BASE}/jsonldContexts")
    assert listed.status_code == 200
    assert url in listed.json()
    hosted = await broker.client.get(f"{BASE}/jsonldContexts", params={"kind": "Hosted"})
    assert hosted.json() == [url]
    details = await broker.client.get(f"{BASE}/jsonldContexts", params={"details": "true"})
    entry = next(e for e in details.json() if e["url"] == url)
    assert entry["kind"] == "Hosted" and entry["localId"] == local_id
    got = await broker.client.get(f"{BASE}/jsonldContexts/{local_id}")
    assert got.status_code == 200
    assert got.json() == {"@context": USER_TERMS}
    info = await broker.client.get(f"{BASE}/jsonldContexts/{local_id}", params={"details": "true"})
    assert info.json()["kind"] == "Hosted"
    # usable as the @context of a later request
    created = await broker.client.post(
        f"{BASE}/entities",
        json={"id": EID, "type": "Room", "temperature": 5},
        headers=link(url),
    )
    assert created.status_code == 201, created.text
    assert "https://example.org/terms/temp" in await broker.get(EID)
    deleted = await broker.client.delete(f"{BASE}/jsonldContexts/{local_id}")
    assert deleted.status_code == 204
    gone = await broker.client.get(f"{BASE}/jsonldContexts/{local_id}")
    assert_problem(gone, 404, "ResourceNotFound")
    again = await broker.client.delete(f"{BASE}/jsonldContexts/{local_id}")
    assert_problem(again, 404, "ResourceNotFound")


async def test_hosting_a_bad_context_is_400(broker: Broker) -> None:
    for body in ({"no": "context"}, {"@context": 5}, {"@context": "just a string"}):
        response = await broker.client.post(f"{BASE}/jsonldContexts", json=body)
        assert_problem(response, 400, "BadRequestData")


async def test_unknown_context_is_404(broker: Broker) -> None:
    response = await broker.client.get(f"{BASE}/jsonldContexts/nothing-here")
    assert_problem(response, 404, "ResourceNotFound")


async def test_bundled_context_is_listed_after_use(broker: Broker) -> None:
    response = await broker.client.get(
        f"{BASE}/entities", params={"type": "AirQualityObserved"}, headers=link(SDM_CONTEXT)
    )
    assert response.status_code == 200, response.text
    listed = await broker.client.get(f"{BASE}/jsonldContexts")
    assert SDM_CONTEXT in listed.json()


async def test_unreachable_remote_context_is_504(broker: Broker) -> None:
    response = await broker.client.get(
        f"{BASE}/entities", params={"type": "Room"}, headers=link(UNREACHABLE)
    )
    assert_problem(response, 504, "LdContextNotAvailable")
    response = await broker.client.post(
        f"{BASE}/entities", json={"id": EID, "type": "Room"}, headers=link(UNREACHABLE)
    )
    assert_problem(response, 504, "LdContextNotAvailable")
    room = {"id": EID, "type": "Room", "@context": UNREACHABLE}
    response = await broker.client.post(f"{BASE}/entities", **ld_json(room))
    assert_problem(response, 504, "LdContextNotAvailable")


async def test_malformed_link_header_is_400(broker: Broker) -> None:
    for header in ('<not-a-url>; rel="http://www.w3.org/ns/json-ld#context"',):
        response = await broker.client.get(
            f"{BASE}/entities", params={"type": "Room"}, headers={"Link": header}
        )
        assert_problem(response, 400, "BadRequestData")


async def test_preloaded_context_folder_is_used_offline(
    make_broker: BrokerFactory, tmp_path: Path
) -> None:
    folder = tmp_path / "contexts"
    folder.mkdir()
    url = "https://example.org/offline/context.jsonld"
    (folder / "index.json").write_text(json.dumps({url: "mine.jsonld"}))
    (folder / "mine.jsonld").write_text(json.dumps({"@context": USER_TERMS}))
    broker = await make_broker(twin_context_dir=folder)
    created = await broker.client.post(
        f"{BASE}/entities", json={"id": EID, "type": "Room", "temperature": 3}, headers=link(url)
    )
    assert created.status_code == 201, created.text
    body = await broker.get(EID, headers=link(url))
    assert body["type"] == "Room" and body["temperature"]["value"] == 3
    core = await broker.get(EID)
    assert core["type"] == "https://example.org/Room"


async def test_json_ld_response_carries_the_context_in_the_body(broker: Broker) -> None:
    url = await host(broker, USER_TERMS)
    await broker.create({"id": EID, "type": "Room", "temperature": 1}, headers=link(url))
    response = await broker.client.get(
        f"{BASE}/entities/{EID}", headers={"Accept": "application/ld+json", **link(url)}
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/ld+json")
    assert "Link" not in response.headers
    assert response.json()["@context"] == url
    listing = await broker.client.get(
        f"{BASE}/entities",
        params={"type": "Room"},
        headers={"Accept": "application/ld+json", **link(url)},
    )
    assert [e["@context"] for e in listing.json()] == [url]


async def test_json_response_carries_the_context_in_a_link_header(broker: Broker) -> None:
    await broker.create({"id": EID, "type": "Room"})
    response = await broker.client.get(f"{BASE}/entities/{EID}")
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["Link"] == (
        f'<{CORE_CONTEXT}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'
    )
    assert "@context" not in response.json()
