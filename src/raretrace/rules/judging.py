"""What an item is judged for: its end use and the facts a user asserts that no record can show.

Both are closed sets. An end use outside the list would silently match no rule (a typo such as
``militray`` would turn a licence denial into a pass), so anything else is refused with the list.
"""

from __future__ import annotations

from collections.abc import Iterable

from raretrace.errors import ValidationError

#: The end uses regimes are written against, with what each means.
END_USES: dict[str, str] = {
    "civil": "civilian use only",
    "military": "a military end user or end use (MOFCOM 61 section II; defense items under DFARS)",
    "dual-use": "civil use by a party that also serves military or listed end uses",
}

#: Other spellings people use, mapped to the documented value.
END_USE_ALIASES: dict[str, str] = {
    "civilian": "civil",
    "commercial": "civil",
    "defense": "military",
    "defence": "military",
    "mil": "military",
    "dual use": "dual-use",
    "dual_use": "dual-use",
    "dualuse": "dual-use",
}

#: Facts the registry's records cannot show, asserted by the user and recorded in every verdict.
#: Each names the statutory text it stands for (docs/compliance.md quotes it).
ASSERTIONS: dict[str, str] = {
    "waiver": "a DoD availability waiver under 10 U.S.C. 4872(c)(1) covers this procurement",
    "outside-us": "procured outside the United States for use outside the United States (10 U.S.C. "
    "4872(c)(2), e.g. in support of contingency operations abroad)",
    "cots": "the item is a commercially available off-the-shelf item (41 U.S.C. 104), "
    "10 U.S.C. 4872(c)(3)(A)",
    "electronic-device": "the item is an electronic device not designated as critical, 10 U.S.C. "
    "4872(c)(3)(B)",
}


def parse_end_use(value: str | None, field: str = "end_use") -> str | None:
    """The documented end use for ``value`` (case-insensitive, aliases accepted); None stays None."""
    if value is None:
        return None
    key = " ".join(value.strip().lower().split())
    key = END_USE_ALIASES.get(key, key)
    if key not in END_USES:
        raise ValidationError(
            f"{value!r} is not an end use: use one of {', '.join(END_USES)} "
            f"(also accepted: {', '.join(sorted(END_USE_ALIASES))})",
            field=field,
        )
    return key


def parse_assertions(values: Iterable[str], field: str = "assert") -> frozenset[str]:
    """The documented assertions among ``values``; anything else is refused with the list."""
    out: set[str] = set()
    for value in values:
        key = value.strip().lower()
        if key not in ASSERTIONS:
            raise ValidationError(
                f"{value!r} is not an assertion this tool knows: use one of {', '.join(ASSERTIONS)}",
                field=field,
            )
        out.add(key)
    return frozenset(out)
