"""Delete-after for a pulled copy: the consumer reports where it keeps the copy, and the duty
deletes exactly that file when its deadline has passed, recorded in the usage log."""

from __future__ import annotations

from pathlib import Path

from tests.connector.harness import network
from tests.dataplane.util import agree, start_transfer

from twinspace.clock import ManualClock

POLICY = {
    "permission": [
        {
            "action": "use",
            "duty": [
                {
                    "action": "delete",
                    "constraint": [
                        {"leftOperand": "elapsedTime", "operator": "lteq", "rightOperand": "PT10M"}
                    ],
                }
            ],
        }
    ]
}


async def test_a_pulled_copy_is_deleted_after_the_deadline(tmp_path: Path) -> None:
    clock = ManualClock()
    data = tmp_path / "counts.csv"
    data.write_text("a,b\n1,2\n")
    async with network(
        tmp_path, ["provider", "consumer"], clock=clock, policy_monitor_seconds=3600
    ) as nodes:
        p, c = nodes["provider"], nodes["consumer"]
        p.add_offer("counts", {"type": "File", "path": str(data)}, POLICY)
        ct, _ = await start_transfer(c, p, await agree(c, p, "counts"))
        copy = tmp_path / "elsewhere" / "my-copy.csv"
        copy.parent.mkdir()
        copy.write_text("a,b\n1,2\n")

        bad = await c.client.post(
            f"/management/v3/transferprocesses/{ct.id}/received", json={"path": "relative.csv"}
        )
        assert bad.status_code == 400
        told = await c.client.post(
            f"/management/v3/transferprocesses/{ct.id}/received", json={"path": str(copy)}
        )
        assert told.status_code == 200, told.text
        assert len(told.json()["deleteDuties"]) == 1

        assert await c.connector.duties.run_once() == 0  # not due yet
        assert copy.exists()
        clock.advance(601)
        assert await c.connector.duties.run_once() == 1
        assert not copy.exists()
        usage = (await c.client.get(f"/management/v3/agreements/{ct.agreement_id}/usage")).json()
        [duty] = usage["duties"]
        assert (duty["action"], duty["state"]) == ("delete", "DONE")
        deleted = [e for e in usage["log"] if e["event"] == "duty:delete"]
        assert deleted and deleted[0]["detail"]["deleted"] == str(copy)
