"""Who may use the twin: the participant's API key by default, anyone with twin_auth=none; and
the twin's status under the management API."""

from __future__ import annotations

from tests.twin.api.conftest import BASE, Broker, BrokerFactory, assert_problem


async def test_the_api_key_is_required_by_default(broker: Broker) -> None:
    for method, path in (
        ("GET", f"{BASE}/entities?type=Car"),
        ("GET", f"{BASE}/types"),
        ("POST", f"{BASE}/entities"),
        ("GET", f"{BASE}/temporal/entities?type=Car"),
        ("GET", f"{BASE}/subscriptions"),
    ):
        request = broker.client.build_request(method, path)
        del request.headers["X-Api-Key"]
        response = await broker.client.send(request)
        body = assert_problem(response, 401, None)
        assert body["type"] == "about:blank"
        assert "X-Api-Key" in body["detail"]


async def test_a_wrong_api_key_is_refused(broker: Broker) -> None:
    response = await broker.client.get(f"{BASE}/types", headers={"X-Api-Key": "guess"})
    body = assert_problem(response, 401, None)
    assert "not valid" in body["detail"]


async def test_twin_auth_none_opens_the_api(make_broker: BrokerFactory) -> None:
    opened = await make_broker(twin_auth="none")
    request = opened.client.build_request("GET", f"{BASE}/types")
    del request.headers["X-Api-Key"]
    response = await opened.client.send(request)
    assert response.status_code == 200, response.text


async def test_status_shows_outbox_subscriptions_and_tenants(broker: Broker) -> None:
    await broker.client.post(
        f"{BASE}/entities",
        json={"id": "urn:ngsi-ld:Car:1", "type": "Car", "speed": 1},
        headers={"NGSILD-Tenant": "fleet"},
    )
    response = await broker.client.get("/management/v3/twin")
    assert response.status_code == 200, response.text
    status = response.json()
    assert status["mqtt"] is None  # no MQTT ingest configured
    assert status["notifications"] == {"pending": 0, "sent": 0, "failed": 0}
    assert status["subscriptions"] == 0
    assert status["tenants"] == ["", "fleet"]


async def test_status_needs_the_management_key(broker: Broker) -> None:
    request = broker.client.build_request("GET", "/management/v3/twin")
    del request.headers["X-Api-Key"]
    response = await broker.client.send(request)
    assert response.status_code == 401
