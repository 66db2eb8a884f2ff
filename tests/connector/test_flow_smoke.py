import asyncio
from pathlib import Path

from tests.connector.harness import network


async def wait_for(predicate, timeout: float = 5.0):  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


async def test_negotiate_and_pull(tmp_path: Path, database_url: str) -> None:
    """The whole flow with the provider on each store backend (SQLite, PostgreSQL)."""
    data = tmp_path / "counts.csv"
    data.write_text("a,b\n1,2\n")
    async with network(tmp_path, ["provider", "consumer"], {"provider": database_url}) as nodes:
        p, c = nodes["provider"], nodes["consumer"]
        p.add_offer("counts", {"type": "File", "path": str(data)})
        r = await c.client.post(
            p.dsp + "/catalog/request",
            json={
                "@context": ["https://w3id.org/dspace/2025/1/context.jsonld"],
                "@type": "CatalogRequestMessage",
            },
        )
        # the consumer's client is bound to the consumer app; talk to the provider through its own client
        r = await p.client.post(
            "/dsp/catalog/request",
            json={
                "@context": ["https://w3id.org/dspace/2025/1/context.jsonld"],
                "@type": "CatalogRequestMessage",
            },
        )
        assert r.status_code == 200, r.text
        offer = r.json()["dataset"][0]["hasPolicy"][0]
        offer["target"] = "counts"
        n = c.connector.negotiations.initiate(counter_party_address=p.dsp, offer=offer)
        c.connector.wake()

        def state():  # type: ignore[no-untyped-def]
            with c.connector.store.transaction() as tx:
                return tx.negotiations.get(n.id)

        final = await wait_for(lambda: (s := state()).state == "FINALIZED" and s)
        assert final.agreement_id
        with p.connector.store.transaction() as tx:
            pn = tx.negotiations.by_pid("PROVIDER", consumer_pid=n.id)
        await wait_for(
            lambda: (
                p.connector.negotiations.get(
                    __import__("twinspace.protocol.machine", fromlist=["Role"]).Role.PROVIDER,
                    pn.provider_pid,
                ).body["state"]
                == "FINALIZED"
            )
        )
        t = c.connector.transfers.initiate(
            counter_party_address=p.dsp, agreement_id=final.agreement_id, format_="HttpData-PULL"
        )
        c.connector.wake()

        def tstate():  # type: ignore[no-untyped-def]
            with c.connector.store.transaction() as tx:
                return tx.transfers.get(t.id)

        started = await wait_for(lambda: (s := tstate()).state == "STARTED" and s)
        assert started.data_address["endpoint"] == "http://provider.test/public/data"
