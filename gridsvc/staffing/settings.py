"""Solver weights and report thresholds for staffing (defaults follow the policy texts)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["StaffingSettings"]


@dataclass(frozen=True, slots=True)
class StaffingSettings:
    """Knobs of :func:`gridsvc.staffing.assign`.

    Solver: ``k_candidates`` nearest eligible workers per slot position are offered to CP-SAT
    (``None`` offers every eligible worker). ``repair_branches`` conflicts per community
    (one worker picked for two roles) are settled by trying each way out; the rest keep the
    scarcest role (more branches: shorter travel, slower). Blocks with at most
    ``exact_below`` eligible triples are then solved exactly by CP-SAT (one worker, fixed
    seed, ``exact_budget`` deterministic seconds; 0 turns this off). The objective,
    in priority order: a required position left empty costs ``fill_required``, an optional one
    ``fill_optional``; dropping a still-valid previous assignment ``keep``; then travel in metres
    plus ``balance`` × (k − 1) for the k-th grid one person holds in a ``spread`` slot (a convex
    cost that spreads grids over workers, capped at a quarter of ``fill_optional``).

    Report: a worker serving more than ``overload_residents`` residents (one grid worker for
    1,000+ residents is the overload the reforms fight), ``overload_households`` households or
    ``overload_visits`` visits a month is flagged, unless every slot they hold is in
    ``overload_exempt`` (leaders who oversee rather than visit). ``quota_per_10k`` is the
    community-worker target per 10,000 residents.
    """

    seed: int = 0
    k_candidates: int | None = 8
    repair_branches: int = 1
    exact_below: int = 400
    exact_budget: float = 2.0
    fill_required: int = 1_000_000
    fill_optional: int = 100_000
    keep: int = 20_000
    balance: int = 200
    overload_residents: int = 1000
    overload_households: int = 400
    overload_visits: float = 150.0
    overload_exempt: frozenset[str] = frozenset({"police_grid_leader", "grid_leader"})
    quota_per_10k: float = 18.0

    def step_cost(self, k: int) -> int:
        """Return the extra cost of one person's (k+1)-th grid in one slot (convex, capped)."""
        return min(self.balance * k, self.fill_optional // 4)
