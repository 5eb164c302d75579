"""Staffing models as data: role slots per grid, eligibility and capacities.

A model is a JSON (or YAML) file; ``load_model`` reads a shipped one by name ("1+1+N",
"jiangxi", "1+2+X") or any file by path, and refuses a model whose slots can never be met.
Workers carry *qualifications* (``police``, ``building_head`` …, see :data:`ROLES`); a model's
slots name the *positions* of a grid team (``police_grid_leader`` …) and which qualifications
may fill them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gridsvc.errors import InputError, Problem

__all__ = [
    "ROLES",
    "ROLE_ALIASES",
    "CentreSeat",
    "Slot",
    "StaffingModel",
    "load_model",
    "model_from_dict",
    "shipped_models",
]

MODELS_DIR = Path(__file__).with_name("models")

# Worker qualifications (union of the policy texts' role catalogue) and their Chinese names.
ROLES: dict[str, str] = {
    "police": "社区民警",
    "auxiliary_police": "辅警",
    "party_secretary": "社区(村)党组织书记",
    "community_director": "社区(村)主任",
    "community_worker": "社区工作者",
    "full_time_grid_worker": "专职网格员",
    "part_time_grid_worker": "兼职网格员",
    "all_round_social_worker": "全科社工",
    "social_worker": "社会工作者",
    "village_staff": "村干部",
    "grid_assistant": "网格辅助员",
    "building_head": "楼栋长",
    "party_central_household": "党员中心户",
    "local_notable": "乡贤",
    "resident_representative": "居民代表",
    "red_steward": "红色小管家",
    "volunteer": "志愿者",
    "in_service_party_member": "在职党员",
}
ROLE_ALIASES: dict[str, str] = {zh: code for code, zh in ROLES.items()} | {
    "民警": "police",
    "书记": "party_secretary",
    "主任": "community_director",
    "社工": "social_worker",
    "中心户": "party_central_household",
}


@dataclass(frozen=True, slots=True)
class Slot:
    """One position of a grid team: who may fill it, how many, and how much one person carries.

    Eligibility: any of ``eligible`` qualifications, plus party membership, the grid's police
    beat, hours available, home within ``home_within_m`` of the grid and travel within
    ``max_km``. Capacity per person in this position: ``max_grids`` and the summed
    households, residents and monthly visits of those grids (``None`` = no limit). ``spread``
    prefers several people to one holding many grids; turn it off where one person should lead
    them all (the party secretary as 网格长).
    """

    role: str
    label: str
    eligible: frozenset[str]
    min: int = 1
    max: int = 1
    party_member: bool = False
    same_beat: bool = False
    min_hours: float = 0.0
    home_within_m: float | None = None
    max_km: float | None = None
    max_grids: int = 1
    max_households: int | None = None
    max_residents: int | None = None
    max_visits: float | None = None
    spread: bool = True

    @property
    def capacity_limits(self) -> dict[str, float]:
        """Return the load limits that are set (households, residents, visits)."""
        limits = {
            "households": self.max_households,
            "residents": self.max_residents,
            "visits": self.max_visits,
        }
        return {k: float(v) for k, v in limits.items() if v is not None}


@dataclass(frozen=True, slots=True)
class CentreSeat:
    """Community-centre staff kept off the grids (1+2+X: secretary ×1, all-round social ×2)."""

    label: str
    eligible: frozenset[str]
    count: int


@dataclass(frozen=True, slots=True)
class StaffingModel:
    """A team template: slots per grid, centre seats per community, quota-counting roles."""

    name: str
    slots: tuple[Slot, ...]
    description: str = ""
    level: int = 1
    one_role_per_worker: bool = True
    centre: tuple[CentreSeat, ...] = ()
    quota_roles: frozenset[str] = frozenset()
    roles: dict[str, str] = field(default_factory=dict)

    @property
    def known_roles(self) -> dict[str, str]:
        """Return every qualification this model knows: the catalogue plus its own additions."""
        return ROLES | self.roles

    def slot(self, role: str) -> Slot:
        """Return the slot named ``role``."""
        for s in self.slots:
            if s.role == role:
                return s
        raise KeyError(f"model {self.name} has no slot {role!r}")


def shipped_models() -> list[str]:
    """Return the names of the models shipped with gridsvc."""
    return sorted(_shipped())


def _shipped() -> dict[str, Path]:
    out = {}
    for path in sorted(MODELS_DIR.glob("*.json")):
        out[str(json.loads(path.read_text(encoding="utf-8")).get("name", path.stem))] = path
    return out


def load_model(name_or_path: str | Path) -> StaffingModel:
    """Load a shipped model by name ("1+1+N", "jiangxi", "1+2+X") or a JSON/YAML file by path."""
    shipped = _shipped()
    key = str(name_or_path)
    lowered = {k.lower(): v for k, v in shipped.items()}
    if key.lower() in lowered:
        path = lowered[key.lower()]
    else:
        path = Path(name_or_path)
        if path.suffix.lower() not in (".json", ".yaml", ".yml") or not path.exists():
            raise InputError(
                Problem(
                    f"unknown staffing model {key!r}; use one of {', '.join(shipped)} "
                    "or the path of a model file (.json/.yaml)",
                    field="model",
                )
            )
    return model_from_dict(_read(path), source=path.name)


def _read(path: Path) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            import yaml  # optional: only for jurisdictions that write YAML

            data = yaml.safe_load(text)
    except ImportError:
        raise InputError(
            Problem("reading YAML models needs pyyaml; pip install pyyaml", source=path.name)
        ) from None
    except Exception as exc:
        raise InputError(Problem(f"cannot parse model file: {exc}", source=path.name)) from None
    if not isinstance(data, dict):
        raise InputError(Problem("a model file must hold one object", source=path.name))
    return data


_SLOT_KEYS = set(Slot.__slots__)  # type: ignore[attr-defined]


def model_from_dict(data: dict[str, Any], *, source: str = "model") -> StaffingModel:
    """Build and check a model from its JSON form; raise one InputError for every problem."""
    problems: list[Problem] = []
    name = str(data.get("name") or "").strip()
    if not name:
        problems.append(Problem("model has no name", source=source, field="name"))
    extra_roles = {str(k): str(v) for k, v in (data.get("roles") or {}).items()}
    known = ROLES | extra_roles
    slots = [
        _slot(raw, i, known, source, problems) for i, raw in enumerate(data.get("slots") or [])
    ]
    if not slots:
        problems.append(Problem("model has no slots", source=source, field="slots"))
    roles = [s.role for s in slots if s is not None]
    for dup in sorted({r for r in roles if roles.count(r) > 1}):
        problems.append(Problem(f"slot role {dup!r} appears twice", source=source, field="slots"))
    centre = [
        _centre(raw, i, known, source, problems) for i, raw in enumerate(data.get("centre") or [])
    ]
    quota = frozenset(_roles(data.get("quota_roles") or [], known, source, "quota_roles", problems))
    if problems:
        raise InputError(problems)
    return StaffingModel(
        name=name,
        description=str(data.get("description", "")),
        level=int(data.get("level", 1)),
        one_role_per_worker=bool(data.get("one_role_per_worker", True)),
        slots=tuple(s for s in slots if s is not None),
        centre=tuple(c for c in centre if c is not None),
        quota_roles=quota,
        roles=extra_roles,
    )


def _roles(
    values: Any, known: dict[str, str], source: str, where: str, problems: list[Problem]
) -> list[str]:
    if isinstance(values, str) or not isinstance(values, list):
        problems.append(Problem("expected a list of roles", source=source, field=where))
        return []
    out = []
    for v in values:
        code = ROLE_ALIASES.get(str(v), str(v))
        if code not in known:
            problems.append(
                Problem(
                    f"unknown role {v!r}; known: {', '.join(sorted(known))} "
                    '(add new ones under "roles")',
                    source=source,
                    field=where,
                )
            )
        out.append(code)
    return out


def _slot(
    raw: Any, i: int, known: dict[str, str], source: str, problems: list[Problem]
) -> Slot | None:
    where = f"slots[{i}]"
    if not isinstance(raw, dict) or not raw.get("role"):
        problems.append(Problem("a slot needs an object with a role", source=source, field=where))
        return None
    unknown_keys = sorted(set(raw) - _SLOT_KEYS)
    if unknown_keys:
        problems.append(
            Problem(
                f"unknown slot keys {unknown_keys}; allowed: {', '.join(sorted(_SLOT_KEYS))}",
                source=source,
                field=where,
            )
        )
        return None
    where = f"slots[{raw['role']}]"
    eligible = frozenset(_roles(raw.get("eligible", []), known, source, where, problems))
    try:
        slot = Slot(**{**raw, "eligible": eligible, "label": raw.get("label", raw["role"])})
    except TypeError as exc:
        problems.append(Problem(f"bad slot: {exc}", source=source, field=where))
        return None
    never = _never_met(slot)
    if never:
        problems.append(
            Problem(f"slot {slot.role} can never be met: {never}", source=source, field=where)
        )
    return slot


def _never_met(s: Slot) -> str:
    """Return why slot ``s`` can never be filled as declared, or '' if it can."""
    if s.min < 0 or s.max < 0:
        return f"negative count (min {s.min}, max {s.max})"
    if s.min > s.max:
        return f"min {s.min} > max {s.max}; set min <= max"
    if s.max > 0 and not s.eligible:
        return 'no eligible roles; list at least one under "eligible"'
    if s.max > 0 and s.max_grids < 1:
        return f"max_grids {s.max_grids} lets nobody take a grid; set max_grids >= 1"
    for key, value in (("max_km", s.max_km), ("home_within_m", s.home_within_m)):
        if value is not None and value < 0:
            return f"{key} {value} is negative"
    for key, limit in s.capacity_limits.items():
        if limit <= 0 and s.min > 0:
            return f"max_{key} {limit:g} admits no grid with any {key}; raise it or drop it"
    if s.same_beat and not s.eligible & {"police", "auxiliary_police"} and s.min > 0:
        return "same_beat needs police or auxiliary_police among the eligible roles"
    return ""


def _centre(
    raw: Any, i: int, known: dict[str, str], source: str, problems: list[Problem]
) -> CentreSeat | None:
    where = f"centre[{i}]"
    if not isinstance(raw, dict):
        problems.append(Problem("a centre seat must be an object", source=source, field=where))
        return None
    count = int(raw.get("count", 1))
    eligible = frozenset(_roles(raw.get("eligible", []), known, source, where, problems))
    if count < 0 or (count > 0 and not eligible):
        problems.append(
            Problem("a centre seat needs count >= 0 and eligible roles", source=source, field=where)
        )
        return None
    return CentreSeat(str(raw.get("label", where)), eligible, count)
