"""The IDS usage-control classes end to end, through two (or three) DCP connectors.

``city`` provides, ``mobility`` consumes; ``port`` is a third member where a class needs
"another member". Each test shows the honest path and the refusal, with the refusal's reason.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.connector.harness import Node
from tests.trust.space import did_of

from twinspace.clock import ManualClock
from twinspace.connector.ids import offer_id
from twinspace.dataplane.received import received_name

from .util import (
    PROTOCOL,
    TP,
    USE,
    c,
    catalog,
    data_file,
    dataset_ids,
    events,
    eventually,
    negotiate,
    offer,
    onboard_late,
    permit,
    policy,
    provider_side,
    pull,
    start_transfer,
    usage,
    usage_space,
    wait_state,
)

BERLIN = {
    "type": "Polygon",
    "coordinates": [[[13.0, 52.3], [13.8, 52.3], [13.8, 52.7], [13.0, 52.7], [13.0, 52.3]]],
}


def denied_reason(answer_json: dict[str, object]) -> str:
    assert answer_json["error"] == "usage_denied", answer_json
    return str(answer_json["reason"])


# --- provide access ----------------------------------------------------------------------------


async def test_provide_access(tmp_path: Path) -> None:
    """Plain ``use``: any member negotiates, transfers and pulls; every access is logged; a
    prohibition of ``use`` refuses the same member at negotiation."""
    clock = ManualClock()
    async with usage_space(tmp_path, ["city", "mobility"], clock) as space:
        city, mobility = space.nodes["city"], space.nodes["mobility"]
        data = data_file(tmp_path)
        offer(city, "counts", data, USE)
        offer(city, "closed", data, {"prohibition": [{"action": "use"}]})

        negotiated = await negotiate(mobility, city, "counts")
        agreement_id = negotiated["contractAgreementId"]
        started = await start_transfer(mobility, city, agreement_id)
        pulled = await pull(space, mobility, started["@id"])
        assert pulled.status_code == 200 and pulled.text == data.read_text()
        view = await usage(city, agreement_id)
        assert view["uses"] == 1
        assert sorted(events(view)) == ["access", "transfer"]
        assert all(entry["allowed"] for entry in view["log"])

        refused = await negotiate(mobility, city, "closed", "TERMINATED")
        assert "POLICY_DENIED" in refused["errorDetail"]
        assert "refused by the contract policy" in refused["errorDetail"]


# --- connector-restricted ----------------------------------------------------------------------


async def test_connector_restricted(tmp_path: Path) -> None:
    """``recipient eq <consumer DID>``: that consumer gets the data, another member is refused
    at negotiation with the reason."""
    clock = ManualClock()
    async with usage_space(tmp_path, ["city", "mobility", "port"], clock) as space:
        city, mobility, port = (space.nodes[n] for n in ("city", "mobility", "port"))
        data = data_file(tmp_path)
        offer(city, "counts", data, policy(permit(c("recipient", "eq", did_of("mobility")))))

        agreement_id = (await negotiate(mobility, city, "counts"))["contractAgreementId"]
        started = await start_transfer(mobility, city, agreement_id)
        assert (await pull(space, mobility, started["@id"])).text == data.read_text()

        refused = await negotiate(port, city, "counts", "TERMINATED")
        detail = refused["errorDetail"]
        assert "POLICY_DENIED" in detail and "refused by the contract policy" in detail
        assert "recipient" in detail and did_of("port") in detail


# --- interval ----------------------------------------------------------------------------------


async def test_interval(tmp_path: Path) -> None:
    """``dateTime gteq/lteq``: inside the window the pull works; after it the pull is 403 and
    the policy monitor terminates the running transfer (time does not come back)."""
    clock = ManualClock()
    async with usage_space(tmp_path, ["city", "mobility"], clock) as space:
        city, mobility = space.nodes["city"], space.nodes["mobility"]
        data = data_file(tmp_path)
        window = policy(
            permit(
                c("dateTime", "gteq", "2025-12-31T00:00:00Z"),
                c("dateTime", "lteq", "2026-01-01T01:00:00Z"),
            )
        )
        offer(city, "counts", data, window)
        agreement_id = (await negotiate(mobility, city, "counts"))["contractAgreementId"]
        transfer_id = (await start_transfer(mobility, city, agreement_id))["@id"]
        assert (await pull(space, mobility, transfer_id)).status_code == 200
        assert await city.connector.monitor.run_once() == []  # still inside: nothing stopped

        clock.advance(2 * 3600)  # 02:00, the window closed at 01:00
        late = await pull(space, mobility, transfer_id)
        assert late.status_code == 403
        assert "dateTime" in denied_reason(late.json())

        stopped = await city.connector.monitor.run_once()
        assert stopped == [provider_side(city, transfer_id).id]
        ended = await wait_state(mobility, f"transferprocesses/{transfer_id}", "TERMINATED")
        assert "POLICY_VIOLATION" in ended["errorDetail"]
        assert "dateTime" in ended["errorDetail"]
        await eventually(lambda: provider_side(city, transfer_id).state == "TERMINATED")
        # the token went with the transfer
        assert (await pull(space, mobility, transfer_id)).status_code in (401, 403)


# --- duration ----------------------------------------------------------------------------------


async def test_duration(tmp_path: Path) -> None:
    """``elapsedTime lteq PT1H`` (since the agreement): fine at first, 403 two hours later."""
    clock = ManualClock()
    async with usage_space(tmp_path, ["city", "mobility"], clock) as space:
        city, mobility = space.nodes["city"], space.nodes["mobility"]
        data = data_file(tmp_path)
        offer(city, "counts", data, policy(permit(c("elapsedTime", "lteq", "PT1H"))))
        agreement_id = (await negotiate(mobility, city, "counts"))["contractAgreementId"]
        transfer_id = (await start_transfer(mobility, city, agreement_id))["@id"]
        clock.advance(30 * 60)
        assert (await pull(space, mobility, transfer_id)).status_code == 200

        clock.advance(90 * 60)
        late = await pull(space, mobility, transfer_id)
        assert late.status_code == 403
        assert "elapsedTime" in denied_reason(late.json())
        assert await city.connector.monitor.run_once() == [provider_side(city, transfer_id).id]
        ended = await wait_state(mobility, f"transferprocesses/{transfer_id}", "TERMINATED")
        assert "elapsedTime" in ended["errorDetail"]


# --- location ----------------------------------------------------------------------------------

LOCATION = policy(
    permit(
        c("spatial", "isPartOf", BERLIN),
        c(TP + "deploymentLocation", "isAnyOf", ["zone-a", "zone-b"]),
    )
)


async def test_location(tmp_path: Path) -> None:
    """``spatial isPartOf <polygon>`` with ``Twinspace-Location`` and
    ``twinspace:deploymentLocation isAnyOf`` with ``Twinspace-Deployment-Location``."""
    clock = ManualClock()
    async with usage_space(tmp_path, ["city", "mobility"], clock) as space:
        city, mobility = space.nodes["city"], space.nodes["mobility"]
        data = data_file(tmp_path)
        offer(city, "counts", data, LOCATION)
        agreement_id = (await negotiate(mobility, city, "counts"))["contractAgreementId"]
        transfer_id = (await start_transfer(mobility, city, agreement_id))["@id"]
        inside = {"Twinspace_Location": "13.40,52.52", "Twinspace_Deployment_Location": "zone-a"}
        assert (await pull(space, mobility, transfer_id, **inside)).status_code == 200

        paris = {**inside, "Twinspace_Location": "2.35,48.85"}
        refused = await pull(space, mobility, transfer_id, **paris)
        assert refused.status_code == 403
        assert "spatial [2.35, 48.85] is not isPartOf" in denied_reason(refused.json())

        elsewhere = {**inside, "Twinspace_Deployment_Location": "zone-x"}
        refused = await pull(space, mobility, transfer_id, **elsewhere)
        assert refused.status_code == 403
        assert "deploymentLocation 'zone-x' is not isAnyOf" in denied_reason(refused.json())

        silent = await pull(space, mobility, transfer_id)  # nothing declared: fail closed
        assert silent.status_code == 403
        assert "no value for spatial" in denied_reason(silent.json())

        bad = await pull(space, mobility, transfer_id, Twinspace_Location="somewhere")
        assert bad.status_code == 400
        declared = [e["detail"].get("declared") for e in (await usage(city, agreement_id))["log"]]
        assert {"spatial": [13.4, 52.52], "deploymentLocation": "zone-a"} in declared


# --- role --------------------------------------------------------------------------------------


async def test_role(tmp_path: Path) -> None:
    """``twinspace:role isAnyOf ["consumer"]`` from the verified credentials: ``mobility``
    (provider + consumer) agrees; ``port``, onboarded as a provider only, is refused."""
    clock = ManualClock()
    names = ["city", "mobility", "port"]
    async with usage_space(tmp_path, names, clock, onboard=["city", "mobility"]) as space:
        city, mobility, port = (space.nodes[n] for n in names)
        await onboard_late(space, "port", roles=["provider"])
        offer(
            city,
            "counts",
            data_file(tmp_path),
            policy(permit(c(TP + "role", "isAnyOf", ["consumer"]))),
        )

        agreement_id = (await negotiate(mobility, city, "counts"))["contractAgreementId"]
        transfer_id = (await start_transfer(mobility, city, agreement_id))["@id"]
        assert (await pull(space, mobility, transfer_id)).status_code == 200

        refused = await negotiate(port, city, "counts", "TERMINATED")
        detail = refused["errorDetail"]
        assert "POLICY_DENIED" in detail
        assert "role ['provider'] is not isAnyOf ['consumer']" in detail


# --- purpose -----------------------------------------------------------------------------------


async def test_purpose(tmp_path: Path) -> None:
    """``purpose eq traffic-planning``: agreed without a purpose (none is declared in DSP
    negotiation); a transfer declaring another purpose is refused; a pull declaring another
    purpose in ``Twinspace-Purpose`` is 403, the declared one (or the transfer's) is fine."""
    clock = ManualClock()
    async with usage_space(tmp_path, ["city", "mobility"], clock) as space:
        city, mobility = space.nodes["city"], space.nodes["mobility"]
        data = data_file(tmp_path)
        offer(city, "counts", data, policy(permit(c("purpose", "eq", "traffic-planning"))))
        agreement_id = (await negotiate(mobility, city, "counts"))["contractAgreementId"]

        marketing = await start_transfer(
            mobility, city, agreement_id, "TERMINATED", purpose="marketing"
        )
        assert "POLICY_DENIED" in marketing["errorDetail"]
        assert "purpose 'marketing' is not eq 'traffic-planning'" in marketing["errorDetail"]

        planning = await start_transfer(mobility, city, agreement_id, purpose="traffic-planning")
        transfer_id = planning["@id"]
        assert provider_side(city, transfer_id).purpose == "traffic-planning"
        assert (await pull(space, mobility, transfer_id)).text == data.read_text()
        ok = await pull(space, mobility, transfer_id, Twinspace_Purpose="traffic-planning")
        assert ok.status_code == 200
        refused = await pull(space, mobility, transfer_id, Twinspace_Purpose="marketing")
        assert refused.status_code == 403
        assert "purpose 'marketing' is not eq 'traffic-planning'" in denied_reason(refused.json())

        # a transfer that declared nothing must declare it with each pull
        silent = await start_transfer(mobility, city, agreement_id)
        undeclared = await pull(space, mobility, silent["@id"])
        assert undeclared.status_code == 403
        assert "no value for purpose" in denied_reason(undeclared.json())
        declared = await pull(space, mobility, silent["@id"], Twinspace_Purpose="traffic-planning")
        assert declared.status_code == 200


# --- event -------------------------------------------------------------------------------------


async def signal(node: Node, name: str, kind: str = "event", **extra: Any) -> None:
    """The operator declares an event that occurred / a state the system is in."""
    r = await node.client.post("/management/v3/signals", json={"name": name, "kind": kind, **extra})
    assert r.status_code == 200, r.text


async def test_event_permits_use_during_the_event(tmp_path: Path) -> None:
    """``event isAnyOf ["trafficIncident"]``: refused (naming the event) until the operator
    declares the incident, then agreed and served."""
    clock = ManualClock()
    async with usage_space(tmp_path, ["city", "mobility"], clock) as space:
        city, mobility = space.nodes["city"], space.nodes["mobility"]
        offer(
            city,
            "incident",
            data_file(tmp_path),
            policy(permit(c("event", "isAnyOf", ["trafficIncident"]))),
        )
        refused = await negotiate(mobility, city, "incident", "TERMINATED")
        assert "POLICY_DENIED" in refused["errorDetail"]
        assert "event" in refused["errorDetail"]
        await signal(city, "trafficIncident", until="2026-01-01T06:00:00Z")
        agreement_id = (await negotiate(mobility, city, "incident"))["contractAgreementId"]
        transfer_id = (await start_transfer(mobility, city, agreement_id))["@id"]
        assert (await pull(space, mobility, transfer_id)).status_code == 200
        clock.advance(7 * 3600)  # the incident is over
        late = await pull(space, mobility, transfer_id)
        assert late.status_code == 403 and "event" in late.json()["reason"]


async def test_event_prohibition_applies_once_the_event_occurred(tmp_path: Path) -> None:
    """A prohibition of ``use`` once ``event isAnyOf ["dataRecall"]``: the data flows until
    the provider declares the event, then each access is refused."""
    clock = ManualClock()
    async with usage_space(tmp_path, ["city", "mobility"], clock) as space:
        city, mobility = space.nodes["city"], space.nodes["mobility"]
        doc = {
            **USE,
            "prohibition": [
                {"action": "use", "constraint": [c("event", "isAnyOf", ["dataRecall"])]}
            ],
        }
        offer(city, "counts", data_file(tmp_path), doc)
        agreement_id = (await negotiate(mobility, city, "counts"))["contractAgreementId"]
        transfer_id = (await start_transfer(mobility, city, agreement_id))["@id"]
        assert (await pull(space, mobility, transfer_id)).status_code == 200
        await signal(city, "dataRecall")
        refused = await pull(space, mobility, transfer_id)
        assert refused.status_code == 403 and "dataRecall" in refused.text


# --- N times -----------------------------------------------------------------------------------


async def test_n_times(tmp_path: Path) -> None:
    """``count lteq 3``: three pulls, the fourth is 403 naming the count; uses are counted.
    (The right operand is the string "3": DSP 2025-1's schema allows no JSON number there.)"""
    clock = ManualClock()
    async with usage_space(tmp_path, ["city", "mobility"], clock) as space:
        city, mobility = space.nodes["city"], space.nodes["mobility"]
        offer(city, "counts", data_file(tmp_path), policy(permit(c("count", "lteq", "3"))))
        agreement_id = (await negotiate(mobility, city, "counts"))["contractAgreementId"]
        transfer_id = (await start_transfer(mobility, city, agreement_id))["@id"]
        for _ in range(3):
            assert (await pull(space, mobility, transfer_id)).status_code == 200
            clock.advance(1)  # the usage log is in time order
        fourth = await pull(space, mobility, transfer_id)
        assert fourth.status_code == 403
        assert "count (this would be use #4) 3 is not lteq 3" in denied_reason(fourth.json())
        view = await usage(city, agreement_id)
        assert view["uses"] == 3
        access = [e["allowed"] for e in view["log"] if e["event"] == "access"]
        assert access == [True, True, True, False]


# --- security level ----------------------------------------------------------------------------


async def test_security_level(tmp_path: Path) -> None:
    """``twinspace:securityLevel gteq trust``: a member the authority certified ``trust+`` sees
    and gets the offer; a member without a certified level does not (fail closed: no such fact),
    in the catalog as an access policy and at negotiation as a contract policy."""
    clock = ManualClock()
    names = ["city", "mobility", "port"]
    async with usage_space(tmp_path, names, clock, onboard=["city", "mobility"]) as space:
        city, mobility, port = (space.nodes[n] for n in names)
        await onboard_late(space, "port", securityLevel="trust+")
        data = data_file(tmp_path)
        level = policy(permit(c(TP + "securityLevel", "gteq", "trust")))
        offer(city, "hidden", data, USE, access=level)
        offer(city, "counts", data, level)
        assert dataset_ids(await catalog(mobility, city)) == ["counts"]
        refused = await negotiate(mobility, city, "counts", "TERMINATED")
        assert "POLICY_DENIED" in refused["errorDetail"]
        assert "no value for securityLevel" in refused["errorDetail"]
        assert sorted(dataset_ids(await catalog(port, city))) == ["counts", "hidden"]
        await negotiate(port, city, "counts")


# --- state -------------------------------------------------------------------------------------


async def test_state_restricted(tmp_path: Path) -> None:
    """``twinspace:state isAnyOf ["agreementActive"]``: refused while the system is not in that
    state (the reason names it), agreed once the operator declares it."""
    clock = ManualClock()
    async with usage_space(tmp_path, ["city", "mobility"], clock) as space:
        city, mobility = space.nodes["city"], space.nodes["mobility"]
        data = data_file(tmp_path)
        offer(city, "counts", data, policy(permit(c(TP + "state", "isAnyOf", ["agreementActive"]))))
        refused = await negotiate(mobility, city, "counts", "TERMINATED")
        assert "POLICY_DENIED" in refused["errorDetail"]
        assert "state" in refused["errorDetail"]
        await signal(city, "agreementActive", kind="state")
        await negotiate(mobility, city, "counts")


# --- use and delete after ----------------------------------------------------------------------


async def test_use_and_delete_after(tmp_path: Path) -> None:
    """A ``delete`` duty with ``elapsedTime lteq PT10M``: the pushed file stays until the
    deadline and is deleted by the consumer's duty runner after it; the usage log says so."""
    clock = ManualClock()
    async with usage_space(tmp_path, ["city", "mobility"], clock) as space:
        city, mobility = space.nodes["city"], space.nodes["mobility"]
        data = data_file(tmp_path)
        delete = {"action": "delete", "constraint": [c("elapsedTime", "lteq", "PT10M")]}
        offer(city, "counts", data, policy(permit(duty=[delete])))
        agreement_id = (await negotiate(mobility, city, "counts"))["contractAgreementId"]
        pushed = await start_transfer(
            mobility, city, agreement_id, "COMPLETED", transfer_type="HttpData-PUSH"
        )
        received = (
            mobility.connector.ctx.settings.data_dir / "received" / received_name(pushed["@id"])
        )
        assert received.read_text() == data.read_text()
        [duty] = (await usage(mobility, agreement_id))["duties"]
        assert duty["action"] == "delete" and duty["state"] == "PENDING"
        assert duty["dueAt"].startswith("2026-01-01T00:10:00")

        clock.advance(9 * 60)  # before the deadline: nothing to do, the file is kept
        assert await mobility.connector.duties.run_once() == 0
        assert received.exists()

        clock.advance(2 * 60)
        assert await mobility.connector.duties.run_once() == 1
        assert not received.exists()
        view = await usage(mobility, agreement_id)
        [entry] = [e for e in view["log"] if e["event"] == "duty:delete"]
        assert entry["detail"]["deleted"] == str(received) and entry["detail"]["existed"] is True
        assert view["duties"][0]["state"] == "DONE" and view["duties"][0]["doneAt"]


# --- logging -----------------------------------------------------------------------------------


async def test_logging(tmp_path: Path) -> None:
    """A ``twinspace:log`` duty: the consumer records the use in its own usage log; an
    agreement without the duty leaves no such record."""
    clock = ManualClock()
    async with usage_space(tmp_path, ["city", "mobility"], clock) as space:
        city, mobility = space.nodes["city"], space.nodes["mobility"]
        data = data_file(tmp_path)
        offer(city, "counts", data, policy(permit(duty=[{"action": TP + "log"}])))
        offer(city, "plain", data, USE)
        logged = (await negotiate(mobility, city, "counts"))["contractAgreementId"]
        plain = (await negotiate(mobility, city, "plain"))["contractAgreementId"]
        logged_transfer = (await start_transfer(mobility, city, logged))["@id"]
        await start_transfer(mobility, city, plain)
        assert await mobility.connector.duties.run_once() == 1

        view = await usage(mobility, logged)
        [entry] = [e for e in view["log"] if e["event"] == "duty:log"]
        assert entry["transferId"] == logged_transfer
        assert [d["action"] for d in view["duties"]] == ["log"]
        assert events(await usage(mobility, plain)) == []


# --- notification ------------------------------------------------------------------------------


async def test_notification(tmp_path: Path) -> None:
    """A ``twinspace:notify`` duty: the consumer tells the provider, whose usage log shows the
    notification from the consumer's DID; another member cannot notify under the agreement."""
    clock = ManualClock()
    async with usage_space(tmp_path, ["city", "mobility", "port"], clock) as space:
        city, mobility, port = (space.nodes[n] for n in ("city", "mobility", "port"))
        offer(city, "counts", data_file(tmp_path), policy(permit(duty=[{"action": TP + "notify"}])))
        agreement_id = (await negotiate(mobility, city, "counts"))["contractAgreementId"]
        transfer_id = (await start_transfer(mobility, city, agreement_id))["@id"]
        assert await mobility.connector.duties.run_once() == 1

        view = await usage(city, agreement_id)
        [note] = [e for e in view["log"] if e["event"] == "notification"]
        assert note["detail"]["consumer"] == did_of("mobility")
        assert note["detail"]["consumerTransfer"] == transfer_id
        mine = await usage(mobility, agreement_id)
        assert [e["event"] for e in mine["log"]] == ["duty:notify"]
        assert mine["log"][0]["detail"]["notified"] == did_of("city")

        # port is a member, but not the agreement's consumer
        forged = await space.shared.post(
            f"{city.dsp}/usage/notifications",
            json={"agreementId": agreement_id, "transferId": "x", "event": "used"},
            headers={"Authorization": port.connector.authorization(did_of("city"))},
        )
        assert forged.status_code == 404
        notes = [
            e for e in (await usage(city, agreement_id))["log"] if e["event"] == "notification"
        ]
        assert len(notes) == 1


# --- attach policy when distributing -----------------------------------------------------------


async def test_attach_policy_when_distributing(tmp_path: Path) -> None:
    """``distribute`` with a ``nextPolicy`` duty: recorded on the consumer side (what policy to
    attach when passing the data on); a plain ``use`` agreement records no such duty."""
    clock = ManualClock()
    async with usage_space(tmp_path, ["city", "mobility"], clock) as space:
        city, mobility = space.nodes["city"], space.nodes["mobility"]
        doc = policy(
            permit(),
            permit(
                action="distribute",
                duty=[{"action": "nextPolicy", "target": "urn:policy:downstream"}],
            ),
        )
        offer(city, "counts", data_file(tmp_path), doc)
        agreement_id = (await negotiate(mobility, city, "counts"))["contractAgreementId"]
        await start_transfer(mobility, city, agreement_id)
        [duty] = (await usage(mobility, agreement_id))["duties"]
        assert duty["action"] == "nextPolicy"
        assert duty["detail"]["policy"] == "urn:policy:downstream"
        assert duty["detail"]["path"] == "permission[1].duty[0]"
        assert await mobility.connector.duties.run_once() == 1
        view = await usage(mobility, agreement_id)
        [entry] = [e for e in view["log"] if e["event"] == "duty:nextPolicy"]
        assert entry["detail"]["recorded"]["policy"] == "urn:policy:downstream"
        # the provider carries no duty of its own
        assert (await usage(city, agreement_id))["duties"] == []


# --- membership --------------------------------------------------------------------------------


async def test_membership(tmp_path: Path) -> None:
    """``twinspace:membership eq active``: a member pulls; once the authority revokes it, the
    policy monitor (status lists checked again) suspends the transfer and the next pull is
    refused."""
    clock = ManualClock()
    async with usage_space(tmp_path, ["city", "mobility"], clock) as space:
        city, mobility = space.nodes["city"], space.nodes["mobility"]
        offer(
            city,
            "counts",
            data_file(tmp_path),
            policy(permit(c(TP + "membership", "eq", "active"))),
        )
        agreement_id = (await negotiate(mobility, city, "counts"))["contractAgreementId"]
        transfer_id = (await start_transfer(mobility, city, agreement_id))["@id"]
        assert (await pull(space, mobility, transfer_id)).status_code == 200
        assert await city.connector.monitor.run_once() == []

        await space.authority.change(did_of("mobility"), "revoke")
        clock.advance(61)  # city's copy of the status list expires
        assert await city.connector.monitor.run_once() == [provider_side(city, transfer_id).id]
        suspended = await wait_state(mobility, f"transferprocesses/{transfer_id}", "SUSPENDED")
        assert "POLICY_VIOLATION" in suspended["errorDetail"]
        assert "membership 'revoked' is not eq 'active'" in suspended["errorDetail"]

        refused = await pull(space, mobility, transfer_id)
        assert refused.status_code == 403  # at once: while the suspension is on its way, or after
        reason = refused.json()["reason"]
        assert "SUSPENDED" in reason or "being stopped" in reason, reason
        monitor = [e for e in (await usage(city, agreement_id))["log"] if e["event"] == "monitor"]
        assert [e["allowed"] for e in monitor] == [False]


# --- catalog -----------------------------------------------------------------------------------


async def test_catalog_hides_offers_the_caller_may_not_see(tmp_path: Path) -> None:
    """An access policy ``twinspace:country eq FR`` hides the offer from a DE member; naming the
    hidden offer anyway is refused by the access policy at negotiation."""
    clock = ManualClock()
    async with usage_space(tmp_path, ["city", "mobility"], clock) as space:
        city, mobility = space.nodes["city"], space.nodes["mobility"]
        data = data_file(tmp_path)
        offer(city, "french", data, USE, access=policy(permit(c(TP + "country", "eq", "FR"))))
        offer(city, "german", data, USE, access=policy(permit(c(TP + "country", "eq", "DE"))))
        assert dataset_ids(await catalog(mobility, city)) == ["german"]
        hidden = await mobility.client.post(
            "/management/v3/catalog/dataset/request",
            json={
                "@id": "french",
                "counterPartyAddress": city.dsp,
                "counterPartyId": did_of("city"),
                "protocol": PROTOCOL,
            },
        )
        assert hidden.status_code == 502 and "404" in hidden.text, hidden.text

        guessed = {"@id": offer_id("cd-french", "french"), "@type": "Offer", **USE}
        created = await mobility.client.post(
            "/management/v3/contractnegotiations",
            json={
                "counterPartyAddress": city.dsp,
                "counterPartyId": did_of("city"),
                "protocol": PROTOCOL,
                "policy": {**guessed, "target": "french", "assigner": did_of("city")},
            },
        )
        assert created.status_code == 200, created.text
        path = f"contractnegotiations/{created.json()['@id']}"
        refused = await wait_state(mobility, path, "TERMINATED")
        assert "refused by the access policy" in refused["errorDetail"]
        assert "country 'DE' is not eq 'FR'" in refused["errorDetail"]
