"""The trace, verdict and search answers say the same bytes since the services return typed answers (#18).

``tests/data/typed_answers_before.json`` holds every API body, CLI output, export file and web page of
``tests/typed_answers_world.py`` as the code gave them while the services still built the JSON themselves
(commit b0759df, captured before the change); on the branch that typed them (s17-18a) every one matched
byte for byte. The capture was then taken again once, after the merge with namespaced ids (#17), since the
ids of the reference chains, and so the keys, bodies and orders, changed then; from there it holds every
output against any later change: the typed answers, converted by ``render.jsonable`` in the interfaces,
must give each one byte for byte.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.typed_answers_world import capture

BEFORE = Path(__file__).parent / "data" / "typed_answers_before.json"


def test_every_output_is_what_it_was_before_the_answers_were_typed() -> None:
    before: dict[str, str] = json.loads(BEFORE.read_text(encoding="utf-8"))
    now = capture()
    assert sorted(now) == sorted(before)
    changed = [name for name in before if now[name] != before[name]]
    assert not changed, f"{len(changed)} output(s) changed, first {changed[0]!r}:\n{now[changed[0]][:2000]}"
