"""Plan upload (SPEC 2 "Plan upload"): receive → analyse (preview) → confirm → apply.

The analysis and the apply run the same pipeline (plans/upload_rows.py reads the rows, then
set-based SQL over a temporary staging table checks them against the plans held), both under
the LA's plan lock. The analysis writes no plan and keeps its classification with the plans'
versions it saw; the apply writes that classification as it is while those versions stand,
else runs the pipeline again, and commits everything, acknowledgement included, in one
transaction. So a preview predicts exactly what the apply does to the plans as they stand, two
uploads from one LA never interleave, and a crash at any point leaves the plans as they were.

The package, by step:
- `steps.py`: receive, analyse (the preview), confirm or cancel, apply;
- `pipeline.py`: the one pipeline both the preview and the apply run, over
- `staging.py`: the staging table's SQL (stage, classify against the plans held, write);
- `results.py`: what an upload keeps (file code, rejected rows, preview changes), or its refusal;
- `verification.py`: identity verification's PDS step before the pipeline;
- `progress.py`: the browser's progress bar;
- `unattended.py`: `manage.py import_plans` and its printed acknowledgement;
- `housekeeping.py`: beat's expiry, retention and stale-apply jobs.
Callers import from `plans.uploads`, which re-exports each step's public names.
"""

from plans.uploads.housekeeping import (
    STALE_UPLOAD_MESSAGE,
    plan_upload_reports_forget,
    plan_uploads_expire,
    plan_uploads_stale_fail,
)
from plans.uploads.pipeline import COUNT_KEYS
from plans.uploads.progress import upload_progress
from plans.uploads.results import rejected_rows_report
from plans.uploads.steps import (
    plan_upload_analyse,
    plan_upload_apply,
    plan_upload_cancel,
    plan_upload_confirm,
    plan_upload_receive,
)
from plans.uploads.unattended import plan_upload_acknowledgement, plan_upload_import, plan_upload_store

__all__ = [
    "COUNT_KEYS",
    "STALE_UPLOAD_MESSAGE",
    "plan_upload_acknowledgement",
    "plan_upload_analyse",
    "plan_upload_apply",
    "plan_upload_cancel",
    "plan_upload_confirm",
    "plan_upload_import",
    "plan_upload_receive",
    "plan_upload_reports_forget",
    "plan_uploads_expire",
    "plan_upload_store",
    "plan_uploads_stale_fail",
    "rejected_rows_report",
    "upload_progress",
]
