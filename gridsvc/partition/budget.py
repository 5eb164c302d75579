"""A per-community budget of deterministic work for the optional search: exact solvers and ReCom.

The budget counts work, never time, so a plan depends only on its input: the same community
partitioned on a fast idle machine or a slow loaded one gets the same codes and geometry.
**One unit** is about one CPU second of this machine's cores, counted as work, not time: the
optional steps are charged by counting their work, with constants measured against CPU seconds
(on 8 communities of the 1M city a budget of one unit per community cost 2.2 CPU s per unit
spent with the constants before; each kind of step was then rescaled by its own ratio):

- HiGHS set partitioning: its LP relaxation is solved by column generation, charged
  ``HIGHS_LP_ITERATIONS`` simplex iterations of the restricted masters, ``HIGHS_LP_SOLVES``
  master solves (their overhead) and ``HIGHS_PRICED_NONZEROS`` matrix nonzeros priced (every
  candidate group, once per round) per unit each, and it stops where the budget does;
  ``HIGHS_NONZEROS`` nonzeros of the MIP over the
  groups that relaxation leaves (its root: cuts, heuristics) one unit, and ``HIGHS_NODES``
  branch-and-bound nodes one unit; a call may explore only the nodes the budget has left
  (``mip_max_nodes``), and at most ``STEP_NODES`` per unit of its own limit;
- CP-SAT (re-splits, lumpiness proofs): ``CP_SAT_SECONDS`` seconds of its deterministic time
  (OR-Tools' own count of the work a search did; ``max_deterministic_time``, one worker and a
  fixed seed, so its search is repeatable) plus ``CP_SAT_TERMS`` variables and constraints of
  the model per unit (building the model in Python costs more than most solves); a call's own
  limit is counted in deterministic seconds, as before the rescale, so unlimited runs search
  as far as they did;
- a ReCom re-split by bisection: ``RESPLIT_ATOMS`` atoms re-split cost one unit;
- the exact cover's enumeration of connected groups (in numpy): ``ENUMERATED_GROUPS`` groups
  grown cost one unit, those listed and those under the lower bound grown on the way alike
  (each is one row of the same array work; up to 400,000 of the latter were free before).
  Urban's three enumerations list 2–3 million groups per CPU second with the machine loaded;
  on the 1M city's regions, 1.0–1.8 million grown per CPU second. It stops once what is left
  is spent;
- the search for units that fit in no group (``exact.stuck_atoms``): ``STUCK_STEPS`` steps cost
  one unit (measured on its worst case, an 8 × 8 grid of 1-household atoms where nothing fits:
  24,000 steps per CPU second; before it was charged, that case took 54 CPU s uncharged); it
  stops once what is left is spent.

The LP and enumeration constants were measured on the exact calls of the yudu and urban
fixtures (on 2026-11-22, load 4–5: column generation 0.41–0.54 CPU s per unit at half these
constants, the enumeration 0.37–0.43 CPU s per unit at 400,000 groups).

Bisection, boundary moves and the micro-grids always run; the exact methods and the ReCom repair
run only while the budget lasts. ``Budget(None)`` never runs out (the default: fixtures and the
API get the full proofs; each call still has its own work limit); a city run passes
``gridsvc.config.CITY_BUDGET`` units per community. The report keeps the two kinds of skipped
step apart: ``skipped_budget`` (the budget was spent) and ``skipped_too_big`` (a step past its
own work limit or candidate-group limit, which happens under an unlimited budget too).

Where a limited budget goes (``level._split``, ``level._infeasible``; measured on 16 communities
of the 1M city, ``/tmp``-instrumented, 2026-11-22): a lumpy region whose heuristic plan misses
the bounds gets the exact cover first (0.03–0.15 units each), not the ReCom repair (0.3–0.8
units for at most one grid, its plan then replaced by the cover's anyway): at 0.2 units such
regions kept 60 of the heuristic's 93 grids outside the bounds (83 of 92 at one unit before); a
region already within the bounds gets the exact cover (compactness only) while half of the
budget is left; a lumpiness proof that merges regions runs only when a twentieth of the budget
pays for its model (the proofs that did not finish took a whole unit each, twice in 8
communities, and changed nothing); the fewest-exceptions cover enumerates at most 50,000 groups
(every one found held under 31,000; those past 200,000 were too big, at a quarter unit each).

``gridsvc.config.CITY_BUDGET`` (0.2 units) is run-city's default: ``bench/partition_city.py
--jobs 1 --pick 0,35,70,105,140,175,210,245,15,50,85,120,155,190,225,240`` (16 communities,
63,021 households), run back to back at load 5.3–6.5 on 2026-11-22:

================  ======  =======  =====  =======  ======  ======
budget (units)    CPU s   in band  grids  mean PP  min PP  PP<.15
================  ======  =======  =====  =======  ======  ======
0                 16.9    0.9407   1586   0.6100   0.074   3
1, before         28.8    0.9467   1576   0.6120   0.074   2
0.2 (default)     19.0    0.9615   1558   0.6146   0.069   7
0.3               21.0    0.9653   1554   0.6152   0.069   7
1                 21.8    0.9653   1554   0.6156   0.069   6
================  ======  =======  =====  =======  ======  ======

0.2 units cost 12 % more CPU than none and buy 3.5 times the in-band gain that one unit
bought before (85 % of what one unit buys now); more buys little. The fewest-exceptions
covers that bring grids into the band leave a few thin ones (PP < 0.15: 3 → 7).

Every solver call also gets a generous wall-clock cap (``WALL_CAP_SECONDS``) as a last resort
against a machine so starved that a call would hang. A call stopped by it is counted in
``wall_capped``; such a plan may differ from a re-run, and the report says it is not
reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ortools.sat.python import cp_model

__all__ = [
    "CP_SAT_SECONDS",
    "CP_SAT_TERMS",
    "ENUMERATED_GROUPS",
    "HIGHS_LP_ITERATIONS",
    "HIGHS_LP_SOLVES",
    "HIGHS_NODES",
    "HIGHS_NONZEROS",
    "HIGHS_PRICED_NONZEROS",
    "RESPLIT_ATOMS",
    "STEP_NODES",
    "STUCK_STEPS",
    "WALL_CAP_SECONDS",
    "Budget",
]

# measured CPU per charged unit before rescaling: HiGHS 2.6, CP-SAT 2.0, ReCom 1.3
HIGHS_NONZEROS = 250_000  # matrix nonzeros of a set-partitioning MIP per unit (its root)
HIGHS_LP_ITERATIONS = 55_000  # simplex iterations of column generation's masters per unit
HIGHS_LP_SOLVES = 3_500  # restricted-master LP solves of column generation per unit (overhead)
HIGHS_PRICED_NONZEROS = 230_000_000  # matrix nonzeros priced by column generation per unit
HIGHS_NODES = 30  # HiGHS branch-and-bound nodes per unit
STEP_NODES = 100  # nodes per unit of a step's own limit (its ``units``; unchanged by the rescale)
RESPLIT_ATOMS = 6_000  # atoms re-split by bisection (ReCom) per unit
CP_SAT_SECONDS = 0.5  # CP-SAT deterministic seconds per unit
CP_SAT_TERMS = 100_000  # variables + constraints of CP-SAT models built per unit
STUCK_STEPS = 35_000  # steps of the search for units that fit in no group per unit (its worst case)
ENUMERATED_GROUPS = 2_800_000  # connected groups listed by the exact cover's enumeration per unit
WALL_CAP_SECONDS = 120.0  # last-resort wall-clock cap of one solver call


@dataclass(slots=True)
class Budget:
    """Units of deterministic work the optional search may still do; ``None`` means unlimited."""

    units: float | None = None
    spent: float = 0.0
    skipped_budget: int = 0  # optional steps skipped because the budget was spent
    skipped_too_big: int = 0  # steps skipped because they exceed their own per-step work limit
    wall_capped: int = 0  # solver calls stopped by the wall-clock cap (not reproducible)

    def left(self) -> float:
        """Return the units left (infinite without a budget)."""
        if self.units is None:
            return float("inf")
        return max(0.0, self.units - self.spent)

    def allows(self) -> bool:
        """Return True if optional search may still run; count the step as skipped if not."""
        if self.left() > 0.0:
            return True
        self.skipped_budget += 1
        return False

    def too_big(self) -> None:
        """Count a step skipped because it exceeds its own work limit (not the budget's)."""
        self.skipped_too_big += 1

    def cap(self, units: float) -> float:
        """Return ``units`` cut to what is left of the budget."""
        return min(units, self.left())

    def charge(self, units: float) -> None:
        """Count ``units`` of work as done."""
        self.spent += max(0.0, units)

    def cp_sat(self, units: float) -> cp_model.CpSolver:
        """Return a CP-SAT solver limited to ``units`` (cut to what is left), repeatable."""
        from ortools.sat.python import cp_model

        solver = cp_model.CpSolver()
        # a step's own limit ``units`` stays in deterministic seconds (as calibrated before);
        # what the budget has left is in units, CP_SAT_SECONDS deterministic seconds each
        solver.parameters.max_deterministic_time = min(units, self.left() * CP_SAT_SECONDS)
        solver.parameters.max_time_in_seconds = WALL_CAP_SECONDS
        solver.parameters.num_workers = 1
        solver.parameters.random_seed = 0
        return solver

    def settle_cp_sat(
        self, model: cp_model.CpModel, solver: cp_model.CpSolver, status: cp_model.CpSolverStatus
    ) -> None:
        """Charge a finished CP-SAT search; note it if the wall-clock cap stopped it."""
        from ortools.sat.python import cp_model

        terms = len(model.proto.variables) + len(model.proto.constraints)
        self.charge(solver.deterministic_time / CP_SAT_SECONDS + terms / CP_SAT_TERMS)
        finished = status in (cp_model.OPTIMAL, cp_model.INFEASIBLE)
        if not finished and solver.wall_time >= WALL_CAP_SECONDS:
            self.wall_capped += 1

    def report(self) -> dict[str, float | int | None]:
        """Return the budget's line of the report."""
        return {
            "units": self.units,
            "spent_units": round(self.spent, 3),
            "skipped_budget": self.skipped_budget,
            "skipped_too_big": self.skipped_too_big,
            "wall_capped_calls": self.wall_capped,
        }
