"""Issue #18, "interfaces that compute": the count of consortium members comes from one service
function, and the world stage-share answer says which stages it leaves out and why instead of
skipping them silently."""

from __future__ import annotations

import tomllib
from importlib import resources

from raretrace.ledger.members import consortium_member_count
from raretrace.world.data import WorldData


def test_the_member_count_is_the_consortium_regimes_member_list() -> None:
    text = resources.files("raretrace").joinpath("data/regimes/consortium.toml").read_text("utf-8")
    listed = tomllib.loads(text)["parameters"]["members"]
    # the Minerals Security Partnership's 14 partner countries (the EU is represented by the Commission)
    assert len(listed) == 14
    assert consortium_member_count() == len(listed)


def test_stage_shares_name_the_stages_without_published_figures() -> None:
    from raretrace.server.api_world import world_stage_shares

    answer = world_stage_shares()
    shown = {row.stage for row in answer.stages}
    missing = {row.stage: row.reason for row in answer.not_published}
    assert shown | set(missing) == {"mining", "separation", "metallization", "magnet"}
    assert not shown & set(missing)
    data = WorldData.load()
    published = {s.stage for s in data.shares if s.kind == "observed"} | {"mining"}
    # a stage is missing exactly when the shipped data publish no observed share for it
    assert set(missing) == {"mining", "separation", "metallization", "magnet"} - published
    for stage, reason in missing.items():
        assert stage in reason
