"""``twinspace audit``'s check, run as a participant against the real log service: it passes on
the honest log and names what an operator changed behind the participants' backs."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from tests.connector.harness import API_KEY
from tests.trust.space import Space, dcp_space
from tests.trust.test_dcp_network import negotiate

from twinspace.cli.audit import run_audit
from twinspace.cli.client import ManagementClient
from twinspace.store import tables


async def logged_space(space: Space, tmp_path: Path) -> str:
    city, mobility = space.nodes["city"], space.nodes["mobility"]
    data = tmp_path / "d.csv"
    data.write_text("a\n")
    for asset in ("d1", "d2"):
        city.add_offer(asset, {"type": "File", "path": str(data)})
    agreement = (await negotiate(mobility, city, "d1"))["contractAgreementId"]
    await negotiate(mobility, city, "d2")
    for _ in range(2):
        for node in space.nodes.values():
            assert node.connector.ledger is not None
            await node.connector.ledger.run_once()
    return str(agreement)


async def audit_as(space: Space, name: str) -> tuple[bool, list[str], list[str]]:
    client = ManagementClient(f"https://{name}.test", API_KEY, transport=space.router)
    async with client:
        report, _ = await run_audit(client, False, transport=space.router)
    return report.ok, report.checked, [p.code for p in report.problems]


def authority_store(space: Space) -> sa.Engine:
    return space.router.apps["authority.test"].app.state.log.store.engine  # type: ignore[attr-defined,no-any-return]


async def test_an_honest_log_passes(tmp_path: Path) -> None:
    async with dcp_space(tmp_path, ["city", "mobility"]) as space:
        agreement = await logged_space(space, tmp_path)
        ok, checked, problems = await audit_as(space, "mobility")
        assert ok and problems == []
        assert any("receipt" in line for line in checked)
        client = ManagementClient("https://mobility.test", API_KEY, transport=space.router)
        async with client:
            trail = await client.call("GET", f"/agreements/{agreement}/trail")
        assert {e["kind"] for e in trail["entries"]} == {"agreement"}
        assert all(e["proofVerified"] for e in trail["entries"])
        assert len(trail["entries"]) == 2  # both sides


async def test_a_changed_entry_is_caught(tmp_path: Path) -> None:
    async with dcp_space(tmp_path, ["city", "mobility"]) as space:
        await logged_space(space, tmp_path)
        with authority_store(space).begin() as conn:
            other = conn.execute(
                sa.select(tables.log_leaves.c.entry).where(tables.log_leaves.c.idx == 2)
            ).scalar_one()
            conn.execute(
                tables.log_leaves.update().where(tables.log_leaves.c.idx == 0).values(entry=other)
            )
        ok, _, problems = await audit_as(space, "mobility")
        assert not ok
        assert set(problems) & {"changed_entry", "reordered"}


async def test_a_removed_entry_is_caught(tmp_path: Path) -> None:
    async with dcp_space(tmp_path, ["city", "mobility"]) as space:
        await logged_space(space, tmp_path)
        with authority_store(space).begin() as conn:
            last = conn.execute(sa.select(sa.func.max(tables.log_leaves.c.idx))).scalar_one()
            conn.execute(tables.log_leaves.delete().where(tables.log_leaves.c.idx == last))
        ok, _, problems = await audit_as(space, "mobility")
        assert not ok and "removed_entry" in problems


async def audit_with_witness(space: Space, name: str, witness: str) -> list[str]:
    client = ManagementClient(f"https://{name}.test", API_KEY, transport=space.router)
    async with client:
        report, _ = await run_audit(
            client, False, witnesses=[f"https://{witness}.test"], transport=space.router
        )
    return [p.code for p in report.problems]


async def test_witnesses_compare_views_and_catch_a_fork(tmp_path: Path) -> None:
    from twinspace.ledger import Checkpoint, sign_checkpoint
    from twinspace.store import SeenCheckpoint

    async with dcp_space(tmp_path, ["city", "mobility"]) as space:
        await logged_space(space, tmp_path)
        assert await audit_with_witness(space, "mobility", "city") == []
        # the log shows the city another history of the same size: a fork
        log = space.router.apps["authority.test"].app.state.log  # type: ignore[attr-defined]
        city = space.nodes["city"]
        with city.connector.store.transaction() as tx:
            latest = max(tx.seen_checkpoints.list(), key=lambda s: s.size)
            forged = sign_checkpoint(
                Checkpoint(log.did, latest.size, b"\x01" * 32, log.clock.now()), log.key
            )
            tx.seen_checkpoints.delete(latest.size)
            tx.seen_checkpoints.insert(
                SeenCheckpoint(latest.size, "01" * 32, forged.to_json(), log.clock.now())
            )
        assert "fork" in await audit_with_witness(space, "mobility", "city")


async def test_refused_uses_and_duties_are_logged(tmp_path: Path) -> None:
    from tests.trust.test_dcp_network import PROTOCOL, wait_state

    async with dcp_space(tmp_path, ["city", "mobility"]) as space:
        city, mobility = space.nodes["city"], space.nodes["mobility"]
        data = tmp_path / "d.csv"
        data.write_text("a\n")
        policy = {
            "permission": [
                {
                    "action": "use",
                    "constraint": [
                        {"leftOperand": "purpose", "operator": "eq", "rightOperand": "planning"}
                    ],
                    "duty": [{"action": "twinspace:notify"}],
                }
            ]
        }
        city.add_offer("d", {"type": "File", "path": str(data)}, policy)
        agreement = (await negotiate(mobility, city, "d"))["contractAgreementId"]
        created = await mobility.client.post(
            "/management/v3/transferprocesses",
            json={
                "counterPartyAddress": city.dsp,
                "contractId": agreement,
                "transferType": "HttpData-PULL",
                "protocol": PROTOCOL,
                "purpose": "planning",
            },
        )
        transfer_id = created.json()["@id"]
        await wait_state(mobility, f"transferprocesses/{transfer_id}", "STARTED")
        edr = (await mobility.client.get(f"/management/v3/edrs/{transfer_id}/dataaddress")).json()
        refused = await space.shared.get(
            edr["endpoint"],
            headers={"Authorization": edr["authorization"], "Twinspace-Purpose": "advertising"},
        )
        assert refused.status_code == 403
        await mobility.connector.duties.run_once()  # the notify duty
        for _ in range(2):
            for node in space.nodes.values():
                assert node.connector.ledger is not None
                await node.connector.ledger.run_once()
        trail = (
            await space.shared.get(f"https://authority.test/authority/log/trail/{agreement}")
        ).json()
        kinds = [e["kind"] for e in trail["entries"]]
        assert "usage_denied" in kinds and "duty" in kinds
        from twinspace.ledger import read_entry

        denied = next(
            read_entry(e["entry"]).entry for e in trail["entries"] if e["kind"] == "usage_denied"
        )
        assert denied["reason"] == "purpose" and denied["requester"].endswith(":mobility")
