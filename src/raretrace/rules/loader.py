"""Finding regimes: the shipped files, then the user's folders, then amendments.

A regime is a TOML file in ``raretrace/data/regimes/`` (or a folder given with ``--regimes DIR``).
A file with ``amends = "<id>"`` is an amendment: it adds suspensions and sources, changes parameters
and bumps the version of a regime loaded before it — how an authority records an extended suspension
or a secretariat a new member, without touching code or the original file. A user's regime with the
id of a shipped one replaces it.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Sequence
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from raretrace.errors import NotFoundError, ValidationError
from raretrace.rules.fields import RegimeFields
from raretrace.rules.regime import Regime, read_regime


def _read(file: Traversable | Path, name: str) -> dict[str, object]:
    try:
        return tomllib.loads(file.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise ValidationError(f"not valid TOML: {e}", field=name) from e
    except (OSError, UnicodeDecodeError) as e:
        raise ValidationError(f"cannot read: {e}", field=name) from e


def _files(folder: Traversable | Path) -> list[tuple[str, Traversable | Path]]:
    return sorted((f.name, f) for f in folder.iterdir() if f.name.endswith(".toml"))


def _read_folder(
    files: Sequence[tuple[str, Traversable | Path]],
    regimes: dict[str, Regime],
    amendments: list[tuple[str, dict[str, object]]],
) -> None:
    """Regimes of one folder into ``regimes`` (replacing same ids from earlier folders); amendments aside."""
    seen: set[str] = set()
    for name, file in files:
        data = _read(file, name)
        if "amends" in data:
            amendments.append((name, data))
            continue
        regime = read_regime(data, name)
        if regime.id in seen:
            raise ValidationError(f"regime {regime.id!r} is defined twice in one folder", field=f"{name}: id")
        seen.add(regime.id)
        regimes[regime.id] = regime


def _apply(regimes: dict[str, Regime], amendments: list[tuple[str, dict[str, object]]]) -> None:
    for name, data in amendments:
        fields = RegimeFields(data, f"{name}:")
        target = fields.text("amends")
        if target not in regimes:
            raise ValidationError(f"amends {target!r}, which is not a loaded regime", field=f"{name}: amends")
        regimes[target] = regimes[target].amended(fields)


@cache
def _shipped() -> dict[str, Regime]:
    """The package's regimes, read once per process: package data does not change under us, and
    regimes are immutable values."""
    folder = resources.files("raretrace").joinpath("data/regimes")
    regimes: dict[str, Regime] = {}
    amendments: list[tuple[str, dict[str, object]]] = []
    _read_folder([(f"raretrace/data/regimes/{n}", f) for n, f in _files(folder)], regimes, amendments)
    _apply(regimes, amendments)
    return regimes


def load_regimes(folders: Sequence[Path] = ()) -> dict[str, Regime]:
    """Every regime by id: shipped ones, then each folder's (replacing same ids), then amendments."""
    regimes = dict(_shipped())
    amendments: list[tuple[str, dict[str, object]]] = []
    for folder in folders:
        if not folder.is_dir():
            raise NotFoundError(f"regime folder {folder} does not exist", field="regimes")
        _read_folder([(str(f), f) for _, f in _files(folder)], regimes, amendments)
    _apply(regimes, amendments)
    return regimes


def select(regimes: dict[str, Regime], ids: Iterable[str]) -> list[Regime]:
    """The regimes asked for by id (all of them when none are named); unknown ids are an error."""
    wanted = list(ids)
    if not wanted:
        return [regimes[k] for k in sorted(regimes)]
    missing = [i for i in wanted if i not in regimes]
    if missing:
        raise NotFoundError(f"no regime {missing[0]!r}; known: {', '.join(sorted(regimes))}", field="regime")
    return [regimes[i] for i in dict.fromkeys(wanted)]
