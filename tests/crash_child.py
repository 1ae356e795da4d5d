"""Child process for the crash-safety test: appends one large batch, optionally pausing before commit.

Usage: python crash_child.py DB_URL FIRST COUNT [pause]
With 'pause', the batch's rows are written inside the open transaction, 'WRITTEN' is printed, and the
process sleeps, so the parent can SIGKILL it at exactly that point.
"""

from __future__ import annotations

import sys
import time

from raretrace.custody.namespaces import namespaced
from raretrace.ledger.registry import Registry
from raretrace.ledger.scripted import ScriptedChain, lot
from raretrace.store.db import make_engine
from raretrace.store.store import Store


def main() -> None:
    url, first, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    pause = len(sys.argv) > 4 and sys.argv[4] == "pause"
    registry = Registry(make_engine(url))
    chain = ScriptedChain(registry)
    from pathlib import Path

    from raretrace.crypto.keys import load_signer

    chain.signers["US-MINE"] = load_signer(Path(url.removeprefix("sqlite:///") + ".mine.key"))
    batch = [
        chain.envelope(
            "US-MINE",
            "extract",
            event_id=namespaced("event", "US-MINE", f"crash-{first + i}"),
            deposit="Mountain Pass",
            outputs=[lot(namespaced("lot", "US-MINE", f"crash-{first + i}"), "ore", 10.0, {"Nd": 0.01})],
        )
        for i in range(count)
    ]
    if pause:
        original = Store.update_batch

        def write_then_wait(self: Store, conn, batch, tree_size):  # type: ignore[no-untyped-def]
            original(self, conn, batch, tree_size)
            print("WRITTEN", flush=True)
            time.sleep(60)

        Store.update_batch = write_then_wait  # type: ignore[method-assign]
    print("APPENDING", flush=True)
    registry.append(batch)
    print("COMMITTED", flush=True)


if __name__ == "__main__":
    main()
