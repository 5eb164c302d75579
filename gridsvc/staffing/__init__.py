"""Staffing under 1+1+N and its variants: models as data, roster import, workload, solver, report.

``assign`` is the one entry point (the CLI's ``gridsvc assign`` and the API call it);
``write_assignment`` writes its three files; ``check_plan`` validates any plan, hand-made or not.
"""

from gridsvc.staffing.assign import AssignmentResult, assign, plan_context, write_assignment
from gridsvc.staffing.check import check_plan, plan_problems
from gridsvc.staffing.model import (
    ROLES,
    CentreSeat,
    Slot,
    StaffingModel,
    load_model,
    shipped_models,
)
from gridsvc.staffing.roster import check_roster, load_roster
from gridsvc.staffing.settings import StaffingSettings
from gridsvc.staffing.synth import generate_roster
from gridsvc.staffing.workload import attach_beats, grid_workload

__all__ = [
    "ROLES",
    "AssignmentResult",
    "CentreSeat",
    "Slot",
    "StaffingModel",
    "StaffingSettings",
    "assign",
    "attach_beats",
    "check_plan",
    "check_roster",
    "generate_roster",
    "grid_workload",
    "load_model",
    "load_roster",
    "plan_context",
    "plan_problems",
    "shipped_models",
    "write_assignment",
]
