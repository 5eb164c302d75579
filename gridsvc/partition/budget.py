"""A per-community budget of deterministic work for the optional search: exact solvers and ReCom.

The budget counts work, never time, so a plan depends only on its input: the same community
partitioned on a fast idle machine or a slow loaded one gets the same codes and geometry.
**One unit** is about one CPU second of this machine's cores, counted as work, not time: the
optional steps are charged by counting their work, with constants measured against CPU seconds
(see the calibration below; each kind of step is rescaled by its own measured ratio):

- HiGHS set partitioning: its LP relaxation is solved by column generation, charged
  ``HIGHS_LP_ITERATIONS`` simplex iterations of the restricted masters, ``HIGHS_LP_SOLVES``
  master solves (their overhead) and ``HIGHS_PRICED_NONZEROS`` matrix nonzeros priced (every
  candidate group, once per round) per unit each, and it stops where the budget does;
  ``HIGHS_NONZEROS`` nonzeros of the MIP over the groups that relaxation leaves one unit (its
  presolve, which solves most of them outright: 252 of 309 measured ended with no node, 3 ms
  each on average) and ``HIGHS_NODES`` branch-and-bound nodes one unit, the root included
  (HiGHS counts it as a node: a MIP its presolve leaves reaches it, and its cuts and
  heuristics cost 33 ms on average); a call may explore only the nodes the budget has left
  (``mip_max_nodes``), and at most ``STEP_NODES`` per unit of its own limit;
- CP-SAT (re-splits, lumpiness proofs): ``CP_SAT_SECONDS`` seconds of its deterministic time
  (OR-Tools' own count of the work a search did; ``max_deterministic_time``, one worker and a
  fixed seed, so its search is repeatable) plus ``CP_SAT_TERMS`` variables and constraints of
  the model per unit (building the model in Python costs more than most solves); a call's own
  limit is counted in deterministic seconds, as before any rescale, so unlimited runs search
  as far as they did. The short searches a limited budget pays cost about 2 CPU s per
  deterministic second, the long lumpiness proofs of an unlimited one 0.9;
- a ReCom re-split by bisection: ``RESPLIT_ATOMS`` atoms re-split cost one unit;
- the exact cover's enumeration of connected groups (in numpy): ``ENUMERATED_GROUPS`` groups
  grown cost one unit, those listed and those under the lower bound grown on the way alike
  (each is one row of the same array work). It stops once what is left is spent;
- the search for units that fit in no group (``exact.stuck_atoms``): ``STUCK_STEPS`` steps cost
  one unit, measured on its worst case, an 8 × 8 grid of 1-household atoms where nothing fits
  (1.28 million steps in 34–38 CPU s; the city's searches are cheaper per step, 0.2–0.4 CPU s
  per unit); it stops once what is left is spent.

Calibration (2026-11-23, on the engine after session 9: no MIP where the LP optimum is integral,
MIP presolve on, stuck search only over the units no group holds). Each charged step was timed
(``time.process_time`` around each charging call, ``/tmp``-instrumented, nested charged steps
taken out of their caller's time) on 47 communities of the 1M city at one unit each (the 16
below and 31 others), the same 16 unlimited and the four fixtures unlimited, at load 2–11 on 2
cores. CPU s per unit charged, with the constants before and after the rescale:

================  ====================  =========  ============================================
kind              before                after      before → after
================  ====================  =========  ============================================
MIP               0.10–0.21             0.40–1.8   ``HIGHS_NONZEROS`` 6,000 → 250,000,
                  (0.015 unlimited)                ``HIGHS_NODES`` 40 → 30
LP (col. gen.)    0.87–1.33             1.05–1.25  iterations 120,000 → 55,000, solves 3,000
                                                   → 3,500, priced 120 M → 230 M (fitted
                                                   per component)
CP-SAT            0.64–0.70             0.73–1.29  ``CP_SAT_TERMS`` 25,000 → 100,000
                  (0.47 unlimited)                 (``CP_SAT_SECONDS`` 0.5 kept)
ReCom bisection   0.09–0.23             0.22–0.53  ``RESPLIT_ATOMS`` 1,500 → 6,000 (9 repairs)
enumeration       0.30–0.40             0.81–1.09  ``ENUMERATED_GROUPS`` 1 M → 2.8 M
stuck search      0.72 (worst case)     1.0        ``STUCK_STEPS`` 25,000 → 35,000
================  ====================  =========  ============================================

The "after" column was measured at load 5–11 (the "before" one at 2–6), which inflates CPU
seconds; the MIP's range is one MIP of 7,654 nonzeros that took 0.78 CPU s at its root (the
others of its size took 0.01–0.04). At 0.2 units the charged steps of the 16 communities took
1.14 CPU s for 1.08 units. Work the budget does not charge: building the exact cover's model,
its groups' costs and parts (0.17–0.48 CPU s on these runs, about a sixth of the charged
steps' time) and CP-SAT's start-up (about 10 ms a call).

Bisection, boundary moves and the micro-grids always run; the exact methods and the ReCom repair
run only while the budget lasts. ``Budget(None)`` never runs out (the default: fixtures and the
API get the full proofs; each call still has its own work limit); a city run passes
``gridsvc.config.CITY_BUDGET`` units per community. The report keeps the two kinds of skipped
step apart: ``skipped_budget`` (the budget was spent) and ``skipped_too_big`` (a step past its
own work limit or candidate-group limit, which happens under an unlimited budget too).

Where a limited budget goes (``level._split``, ``level._infeasible``; measured on 16 communities
of the 1M city, ``/tmp``-instrumented, 2026-11-22, in units before the rescale): a lumpy region
whose heuristic plan misses the bounds gets the exact cover first (0.03–0.15 units each), not
the ReCom repair (0.3–0.8 units for at most one grid, its plan then replaced by the cover's
anyway): at 0.2 units such regions kept 60 of the heuristic's 93 grids outside the bounds (83 of
92 at one unit before); a region already within the bounds gets the exact cover (compactness
only) while half of the budget is left; a lumpiness proof that merges regions runs only when a
twentieth of the budget pays for its model (the proofs that did not finish took a whole unit
each, twice in 8 communities, and changed nothing); the fewest-exceptions cover enumerates at
most 50,000 groups, or a quarter of what is left when that is more (every one found held under
31,000; those past 200,000 were too big).

``gridsvc.config.CITY_BUDGET`` (0.2 units) is run-city's default: ``bench/partition_city.py
--jobs 1 --pick 0,35,70,105,140,175,210,245,15,50,85,120,155,190,225,240`` (16 communities,
63,021 households), run back to back on 2026-11-23, each budget twice with these constants and
twice with those before (the same runs interleaved), at load 5–11 on 2 cores; CPU s is the mean
of the two (the runs of one budget differed by up to 0.8 s), the units spent and the
communities whose budget ran out are from a separate run:

==============  =====  ======  =======  =====  =======  ======  ======  ===========
budget (units)  CPU s  before  in band  grids  mean PP  min PP  PP<.15  spent (out)
==============  =====  ======  =======  =====  =======  ======  ======  ===========
0               7.6    7.6     0.9407   1586   0.6235   0.110   2       0
0.1             10.2           0.9652   1553   0.6236   0.134   2       0.79 (3)
0.15            11.2           0.9658   1551   0.6239   0.134   2
0.2 (default)   10.9   9.9     0.9659   1552   0.6242   0.134   2       1.08 (1)
  before                       0.9647   1556   0.6232   0.134   2       1.97 (5)
0.3             9.8    9.4     0.9653   1554   0.6244   0.134   2       1.37 (0)
  before                       0.9658   1551   0.6237   0.134   2
1               10.9   10.6    0.9627   1554   0.6246   0.134   2       2.67 (0)
  before                       0.9652   1551   0.6246   0.134   2       3.96 (0)
==============  =====  ======  =======  =====  =======  ======  ======  ===========

(0.1 and 0.15 ran once, after the others.) A unit now buys more of the cheap steps (the MIPs
presolve solves, the enumeration), so 0.2 units run out in one community of 16 instead of five
and cost about 1 CPU s more (+11 %, 3.3 s over none, about 1.1 s of it charged steps and the
rest work the budget does not charge); from 0.1 to 1 the in-band share stays within
0.9627–0.9659 and the CPU within the noise of this load, and from 0.3 up no community runs out:
more budget buys nothing, and one unit even lands 3 grids fewer in band than 0.2 (the shares of
a budget that lumpiness proofs and compact covers may use grow with it and change some regions'
plans; not examined further). 0.2 stays the default: it places the most grids in band of the
budgets measured at little more CPU than 0.1.

Why more budget placed fewer grids in band (``/tmp``-instrumented per region, 2026-11-23): a
lumpiness proof that only a larger budget pays for merges a region across a barrier, and the
merged region then missed the bounds more than its parts did apart (urban at 0.1 units: its
cover was too big for what was left, 5 exceptions where 0.05 units, paying no proof, made 4;
two communities at one unit: 8 where 0.2 made 6, and 8 where 4); and a cover run after the
heuristic replaced its plan even where it ranked below it (4 exceptions for 3, or less
compact). Each region now keeps the plan that ranks first by the engine's order
(``level._rank``), a merged region its parts' plans where they do (``level._apart``). The 16
communities, each budget run back to back before → after at load 4–9 (one run each; CPU s
differed by up to 1.5 s between runs of the same code):

======  ===========  ===============  ============  ===========  ===============
budget  CPU s        in band          outside       grids        mean PP
======  ===========  ===============  ============  ===========  ===============
0       7.7 → 7.0    0.9407 → 0.9407  94 → 94       1586 → 1586  0.6235 → 0.6235
0.05    8.9 → 10.1   0.9609 → 0.9615  61 → 60       1560 → 1560  0.6236 → 0.6234
0.1     8.9 → 9.0    0.9652 → 0.9665  54 → 52       1553 → 1552  0.6236 → 0.6235
0.2     8.2 → 9.1    0.9659 → 0.9671  53 → 51       1552 → 1550  0.6242 → 0.6239
0.3     8.9 → 9.1    0.9653 → 0.9671  54 → 51       1554 → 1549  0.6244 → 0.6241
1       9.0 → 10.0   0.9627 → 0.9677  58 → 50       1554 → 1548  0.6246 → 0.6244
======  ===========  ===============  ============  ===========  ===============

The least PP and the grids under 0.15 did not change. Grids outside the bounds now never grow
with the budget, on any of the 16; a community may still get a grid in band fewer, with as
many exceptions and one grid fewer in all (a more compact cover the larger budget paid for).

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

# rescaled on 2026-11-23 to about one CPU second per unit (see the calibration above)
HIGHS_NONZEROS = 250_000  # matrix nonzeros of a set-partitioning MIP per unit (its presolve)
HIGHS_LP_ITERATIONS = 55_000  # simplex iterations of column generation's masters per unit
HIGHS_LP_SOLVES = 3_500  # restricted-master LP solves of column generation per unit (overhead)
HIGHS_PRICED_NONZEROS = 230_000_000  # matrix nonzeros priced by column generation per unit
HIGHS_NODES = 30  # HiGHS branch-and-bound nodes per unit, the root included
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
