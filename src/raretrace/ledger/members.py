"""How many members the consortium has: the number the security analytics share the floor fee among.

One place for a count three interfaces (the API's economics and report routes, the CLI's world
commands) each read off the consortium regime themselves: the regime's ``members`` parameter lists
the member countries, so its length is the count.
"""

from __future__ import annotations

from raretrace.errors import ValidationError
from raretrace.rules.loader import load_regimes


def consortium_member_count() -> int:
    """The members listed by the shipped consortium regime (``rules/data``: parameter ``members``)."""
    members = load_regimes()["consortium"].parameters.get("members")
    if not isinstance(members, list | tuple) or not members:
        raise ValidationError("the consortium regime lists no members", field="consortium.parameters.members")
    return len(members)
