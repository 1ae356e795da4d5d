"""One colour per country on every chart (the dashboard's bars, the report's Sankey), so China is the
same red wherever it appears. Countries the charts show most have a chosen colour; any other gets one
from a fixed palette by a checksum of its code (never Python's salted hash: the same in every run)."""

from __future__ import annotations

CHOSEN = {
    "CN": "#c0392b",
    "US": "#2c7fb8",
    "AU": "#e6a117",
    "MY": "#16a085",
    "JP": "#8e44ad",
    "MM": "#d35400",
    "VN": "#7f8c8d",
    "IN": "#27ae60",
    "RU": "#34495e",
    "BR": "#1abc9c",
    "CA": "#b03a8c",
    "EE": "#5d6d7e",
    "DE": "#a04000",
    "FR": "#2471a3",
    "KR": "#6c3483",
    "TH": "#b7950b",
    "LA": "#117864",
    "MG": "#943126",
    "unallocated": "#c9ced6",
    "unknown": "#c9ced6",
}
PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#b6992d", "#86bcb6", "#e15759", "#ff9d9a", "#79706e", "#d37295")


def country_colour(code: str) -> str:
    if code in CHOSEN:
        return CHOSEN[code]
    return PALETTE[sum(code.encode("utf-8")) % len(PALETTE)]
