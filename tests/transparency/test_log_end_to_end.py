"""The transparency log with real connectors: agreements and transfer states are logged by both
sides, each with a verified receipt; the trail of an agreement comes with inclusion proofs; bad
submissions are refused; an unreachable log is retried and visible, never skipped."""

from __future__ import annotations

from pathlib import Path

from tests.trust.space import Space, dcp_space, did_of
from tests.trust.test_dcp_network import PROTOCOL, negotiate, wait_state

from twinspace.ledger.checkpoint import SignedCheckpoint
from twinspace.ledger.entries import entry_leaf, make_entry, sign_entry
from twinspace.ledger.merkle import verify_inclusion
from twinspace.store import LOG_LOGGED, LOG_PENDING

LOG = "https://authority.test/authority/log"


async def settle(space: Space) -> None:
    for node in space.nodes.values():
        assert node.connector.ledger is not None
        await node.connector.ledger.run_once()


def submissions(space: Space, name: str) -> list[tuple[str, str]]:
    with space.nodes[name].connector.store.transaction() as tx:
        return sorted((s.kind, s.state) for s in tx.log_submissions.list())


async def test_agreements_and_transfers_are_logged_with_proofs(tmp_path: Path) -> None:
    data = tmp_path / "d.csv"
    data.write_text("a\n1\n")
    async with dcp_space(tmp_path, ["city", "mobility"]) as space:
        city, mobility = space.nodes["city"], space.nodes["mobility"]
        city.add_offer("d", {"type": "File", "path": str(data)})
        agreement_id = (await negotiate(mobility, city, "d"))["contractAgreementId"]
        created = await mobility.client.post(
            "/management/v3/transferprocesses",
            json={
                "counterPartyAddress": city.dsp,
                "contractId": agreement_id,
                "transferType": "HttpData-PULL",
                "protocol": PROTOCOL,
            },
        )
        transfer_id = created.json()["@id"]
        await wait_state(mobility, f"transferprocesses/{transfer_id}", "STARTED")
        await mobility.client.post(f"/management/v3/transferprocesses/{transfer_id}/complete")
        await wait_state(mobility, f"transferprocesses/{transfer_id}", "COMPLETED")
        await settle(space)
        await settle(space)  # the provider's COMPLETED arrives after the consumer's

        for name in ("city", "mobility"):
            kinds = submissions(space, name)
            assert ("agreement", LOG_LOGGED) in kinds
            assert all(state == LOG_LOGGED for _, state in kinds), kinds
        view = (await mobility.client.get(f"/management/v3/transferprocesses/{transfer_id}")).json()
        assert view["transparencyLog"]["state"] == "LOGGED"
        negotiation = await mobility.client.post(
            "/management/v3/contractnegotiations/request", json={}
        )
        assert negotiation.json()[0]["transparencyLog"]["state"] == "LOGGED"

        trail = (await space.shared.get(f"{LOG}/trail/{agreement_id}")).json()
        signed = SignedCheckpoint.from_json(trail["checkpoint"])
        checkpoint = signed.checkpoint
        submitters = sorted({e["submitter"] for e in trail["entries"]})
        assert submitters == sorted([did_of("city"), did_of("mobility")])
        kinds = [e["kind"] for e in trail["entries"]]
        assert kinds.count("agreement") == 2 and kinds.count("transfer") >= 3
        for e in trail["entries"]:
            proof = [bytes.fromhex(h) for h in e["proof"]]
            verify_inclusion(
                entry_leaf(e["entry"]), e["index"], checkpoint.size, proof, checkpoint.root
            )


async def test_bad_submissions_are_refused_and_a_resubmission_gets_its_first_index(
    tmp_path: Path,
) -> None:
    async with dcp_space(tmp_path, ["city"]) as space:
        city = space.nodes["city"]
        trust = city.connector.trust
        assert trust is not None
        entry = make_entry(
            "transfer",
            {"transfer": "urn:uuid:t-1", "agreement": "urn:uuid:a-1", "state": "STARTED"},
            submitter=did_of("city"),
            at=trust.clock.now(),
        )
        jws = sign_entry(entry, trust.key)
        first = await space.shared.post(f"{LOG}/entries", json={"entry": jws})
        again = await space.shared.post(f"{LOG}/entries", json={"entry": jws})
        assert first.status_code == again.status_code == 201
        assert first.json()["index"] == again.json()["index"]

        header, payload, signature = jws.split(".")
        forged = f"{header}.{payload}.{signature[:-4]}AAAA"
        for body in ({"entry": forged}, {"entry": "nope"}, {"entry": 7}, {}):
            refused = await space.shared.post(f"{LOG}/entries", json=body)
            assert refused.status_code == 400, refused.text
            assert set(refused.json()) == {"error", "message"}
        junk = await space.shared.post(f"{LOG}/entries", content=b"{not json")
        assert junk.status_code == 400
        assert (await space.shared.get(f"{LOG}/proof/inclusion?index=5&size=2")).status_code == 400
        assert (await space.shared.get(f"{LOG}/proof/consistency?old=3&new=1")).status_code == 400


async def test_an_unreachable_log_is_retried_and_visible(tmp_path: Path) -> None:
    data = tmp_path / "d.csv"
    data.write_text("a\n")
    async with dcp_space(tmp_path, ["city", "mobility"]) as space:
        city, mobility = space.nodes["city"], space.nodes["mobility"]
        city.add_offer("d", {"type": "File", "path": str(data)})
        authority = space.router.apps["authority.test"]
        # keep the DID documents cached, then take the authority (and its log) away
        await settle(space)
        del space.router.apps["authority.test"]
        agreement_id = (await negotiate(mobility, city, "d"))["contractAgreementId"]
        await settle(space)
        with mobility.connector.store.transaction() as tx:
            [pending] = tx.log_submissions.about(agreement_id)
        assert pending.state == LOG_PENDING and pending.attempts == 1
        assert "unreachable" in (pending.last_error or "")
        view = (
            await mobility.client.post("/management/v3/contractnegotiations/request", json={})
        ).json()
        assert view[0]["transparencyLog"]["state"] == "PENDING"
        assert "unreachable" in view[0]["transparencyLog"]["lastError"]

        space.router.apps["authority.test"] = authority
        with mobility.connector.store.transaction() as tx:  # the retry is due now
            tx.log_submissions.retry(
                pending.id, "test", mobility.connector.ctx.clock.now(), give_up=False
            )
        await settle(space)
        assert submissions(space, "mobility") == [("agreement", LOG_LOGGED)]


async def test_a_batch_is_appended_in_one_go_with_one_answer_per_entry(tmp_path: Path) -> None:
    async with dcp_space(tmp_path, ["city"]) as space:
        trust = space.nodes["city"].connector.trust
        assert trust is not None

        def signed(i: int) -> str:
            entry = make_entry(
                "transfer",
                {"transfer": f"urn:uuid:t-{i}", "agreement": "urn:uuid:a-1", "state": "STARTED"},
                submitter=did_of("city"),
                at=trust.clock.now(),
            )
            return sign_entry(entry, trust.key)

        first = signed(0)
        batch = [first, "garbage", signed(1), first]  # the same entry twice: one leaf
        answer = await space.shared.post(f"{LOG}/entries", json={"entries": batch})
        assert answer.status_code == 201
        results = answer.json()["results"]
        assert [r.get("index") for r in results] == [0, None, 1, 0]
        assert results[1]["error"] == "malformed"
        entries = (await space.shared.get(f"{LOG}/entries")).json()
        assert [e["index"] for e in entries] == [0, 1]
        too_many = await space.shared.post(f"{LOG}/entries", json={"entries": ["x"] * 1001})
        assert too_many.status_code == 413


async def test_a_participant_can_run_the_log(tmp_path: Path) -> None:
    """``TWINSPACE_RUN_LOG``: the city runs a log (its DID document lists it); participants that
    name the city's DID as their log submit there, not to the authority."""
    data = tmp_path / "d.csv"
    data.write_text("a\n")
    async with dcp_space(
        tmp_path, ["city", "mobility"], run_log=True, transparency_log=did_of("city")
    ) as space:
        city, mobility = space.nodes["city"], space.nodes["mobility"]
        document = (await city.client.get("/city/did.json")).json()
        assert {"type": "TransparencyLog", "serviceEndpoint": "https://city.test/city/log"} in [
            {k: s[k] for k in ("type", "serviceEndpoint")} for s in document["service"]
        ]
        city.add_offer("d", {"type": "File", "path": str(data)})
        agreement = (await negotiate(mobility, city, "d"))["contractAgreementId"]
        await settle(space)
        trail = (await space.shared.get(f"https://city.test/city/log/trail/{agreement}")).json()
        assert sorted(e["submitter"] for e in trail["entries"]) == sorted(
            [did_of("city"), did_of("mobility")]
        )
        elsewhere = (await space.shared.get(f"{LOG}/trail/{agreement}")).json()
        assert elsewhere["entries"] == []
