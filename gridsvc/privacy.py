"""Residents' personal numbers: who may read them in full, and how the others see them masked.

Policy (data minimisation, 个人信息保护法 art. 6): a phone number is shown in full to admins
and to the staff who must call residents of a grid (grid leaders and full-time grid workers);
an identity number only to admins and the police grid leader (警务网格长), who verifies
identities. Everyone else (planners, part-time workers, volunteers, other social forces) sees
``138****1234`` and ``140802********123X``.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

__all__ = [
    "ID_ROLES",
    "PERSONAL",
    "PHONE_ROLES",
    "mask_id_number",
    "mask_phone",
    "mask_value",
    "masked",
    "reveals",
]

PERSONAL = ("phone", "id_number")
PHONE_ROLES = frozenset(
    {
        "police_grid_leader",
        "all_round_grid_leader",
        "grid_leader",
        "full_time_grid_worker",
        "grid_worker",
    }
)
ID_ROLES = frozenset({"police_grid_leader"})
_NEEDS = {"phone": PHONE_ROLES, "id_number": ID_ROLES}


def _mask(value: object, keep_head: int, keep_tail: int) -> object:
    if value is None or value is pd.NA or not isinstance(value, str) or not value:
        return value
    if len(value) <= keep_head + keep_tail:
        return "*" * len(value)
    return value[:keep_head] + "*" * (len(value) - keep_head - keep_tail) + value[-keep_tail:]


def mask_phone(value: object) -> object:
    """``13812341234`` → ``138****1234`` (short numbers become all stars)."""
    return _mask(value, 3, 4)


def mask_id_number(value: object) -> object:
    """``140802199001011234`` → ``140802********1234`` (region kept, birth date hidden)."""
    return _mask(value, 6, 4)


_MASKS = {"phone": mask_phone, "id_number": mask_id_number}


def mask_value(field: str, value: object) -> object:
    """Mask one value of personal ``field`` (one of PERSONAL)."""
    return _MASKS[field](value)


def reveals(account_role: str, staffing_roles: Iterable[str]) -> dict[str, bool]:
    """Say, per personal field, whether an account with these staffing roles reads it in full."""
    roles = set(staffing_roles)
    if account_role == "admin":
        return dict.fromkeys(PERSONAL, True)
    if account_role != "worker":
        return dict.fromkeys(PERSONAL, False)
    return {field: bool(roles & needs) for field, needs in _NEEDS.items()}


def masked(frame: pd.DataFrame, reveal: pd.DataFrame) -> pd.DataFrame:
    """Return ``frame`` with each personal field masked where ``reveal[field]`` is False.

    ``reveal`` has the index of ``frame`` and one boolean column per field of PERSONAL.
    """
    out = frame.copy()
    for field in PERSONAL:
        if field not in out.columns:
            continue
        hide = ~reveal[field].reindex(out.index, fill_value=False).astype(bool)
        if hide.any():
            out.loc[hide, field] = out.loc[hide, field].map(_MASKS[field]).astype("string")
    return out
