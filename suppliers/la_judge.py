"""Judges an LA system's conformance run from what MESH and the upload pipeline recorded: the
files received from the run's mailbox with the file and row codes they got, and, for every
answer and notification we sent the mailbox, whether MESH says it was acknowledged (the
tracking the run keeps, suppliers/la_conformance.py `la_run_track`); and the tester's
confirmations, as for the FHIR runs.

Nothing is stored but the tracking: the report is worked out whenever it is read.
"""

from dataclasses import dataclass, field
from datetime import datetime

from mesh.models import MeshInboundMessage, MeshNotificationSent, MeshOutboundMessage, OutboundStatus
from notifications.models import Channel, Delivery
from suppliers.la_scenarios import LA_SCENARIOS, LaScenario
from suppliers.models import LaConformanceRun


@dataclass
class ReceivedFile:
    inbound: MeshInboundMessage
    file_code: str
    # The reasons of its rejected rows (RejectReason values), in file order, once each.
    row_reasons: list[str]

    @property
    def processing(self) -> bool:
        return self.inbound.status == "stored"


@dataclass
class SentMessage:
    """A message we sent (or are still to send) the run's mailbox."""

    kind: str  # "answer" or "notification"
    label: str
    message_id: str  # "" while not yet sent
    sent_at: datetime | None
    tracked: str  # MESH's tracking status as last asked, "" if never


@dataclass
class LaScenarioResult:
    scenario: LaScenario
    status: str  # "passed", "failed", "not_run"
    files: list[ReceivedFile] = field(default_factory=list)
    messages: list[SentMessage] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    confirmation: dict = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    @property
    def status_label(self) -> str:
        return {"passed": "Passed", "failed": "Failed", "not_run": "Not run"}[self.status]


@dataclass
class LaReport:
    run: LaConformanceRun
    scenarios: list[LaScenarioResult]
    files: list[ReceivedFile]

    @property
    def passed(self) -> bool:
        return all(s.passed for s in self.scenarios)

    @property
    def counts(self) -> dict[str, int]:
        return {
            "passed": sum(s.passed for s in self.scenarios),
            "failed": sum(not s.passed for s in self.scenarios),
            "files": len(self.files),
        }


def received_files(run: LaConformanceRun) -> list[ReceivedFile]:
    """The files from the run's mailbox that reached the run's LA (a file sent after the run
    finished is no longer mapped to it, and is not the run's)."""
    inbound = (
        MeshInboundMessage.objects.filter(
            local_authority=run.local_authority, sender=run.mailbox_id, received_at__gte=run.opened_at
        )
        .select_related("upload")
        .prefetch_related("upload__rejections")
        .order_by("received_at", "id")
    )
    files = []
    for message in inbound:
        reasons: list[str] = []
        if message.upload is not None:
            for rejection in message.upload.rejections.all():
                if rejection.reason not in reasons:
                    reasons.append(rejection.reason)
        files.append(ReceivedFile(message, message.file_code, reasons))
    return files


def sent_to_run(run: LaConformanceRun) -> list[SentMessage]:
    answers = MeshOutboundMessage.objects.filter(
        local_authority=run.local_authority, recipient=run.mailbox_id
    ).order_by("created_at", "id")
    found = [
        SentMessage(
            "answer",
            f"{answer.get_kind_display()} ({answer.filename})",
            answer.mesh_message_id if answer.status == OutboundStatus.SENT else "",
            answer.sent_at,
            run.tracked.get(answer.mesh_message_id, "") if answer.mesh_message_id else "",
        )
        for answer in answers
    ]
    sent = {s.delivery_id: s for s in MeshNotificationSent.objects.filter(local_authority=run.local_authority)}
    deliveries = Delivery.objects.filter(
        notification__local_authority=run.local_authority, channel=Channel.MESH
    ).order_by("id")
    for delivery in deliveries:
        notification = sent.get(delivery.pk)
        found.append(
            SentMessage(
                "notification",
                f"Notification (delivery {delivery.pk})",
                notification.message_id if notification else "",
                notification.sent_at if notification else None,
                run.tracked.get(notification.message_id, "") if notification else "",
            )
        )
    return found


def _file_problems(scenario: LaScenario, files: list[ReceivedFile]) -> tuple[list[ReceivedFile], list[str]]:
    coded = [f for f in files if f.file_code == scenario.file_code]
    if not coded:
        if any(f.processing for f in files):
            return [], ["A file is still being processed: look again after the next poll"]
        return [], [f"No file from the run's mailbox got {scenario.file_code}"]
    if scenario.row_reasons:
        full = [f for f in coded if set(scenario.row_reasons) <= set(f.row_reasons)]
        if not full:
            got = sorted({reason for f in coded for reason in f.row_reasons})
            missing = sorted(set(scenario.row_reasons) - set(got))
            return coded, [f"No {scenario.file_code} file had rows rejected for {', '.join(missing)}"]
        return full, []
    return coded, []


def _message_problems(kind: str, messages: list[SentMessage]) -> list[str]:
    mine = [m for m in messages if m.kind == kind]
    noun = "acknowledgement" if kind == "answer" else "notification"
    if not mine:
        return [f"CP-IS has sent the mailbox no {noun} yet"]
    problems = []
    unsent = sum(1 for m in mine if not m.message_id)
    if unsent:
        problems.append(f"{unsent} {noun}(s) not yet sent by CP-IS: look again after the next poll")
    unacknowledged = sum(1 for m in mine if m.message_id and m.tracked != "acknowledged")
    if unacknowledged:
        problems.append(f"{unacknowledged} {noun}(s) not acknowledged in MESH by the system")
    return problems


def la_run_report(run: LaConformanceRun) -> LaReport:
    files = received_files(run)
    messages = sent_to_run(run)
    results = []
    for scenario in LA_SCENARIOS:
        confirmation = run.confirmations.get(scenario.key) or {}
        result = LaScenarioResult(scenario, "failed", confirmation=confirmation)
        if scenario.kind == "file":
            result.files, result.problems = _file_problems(scenario, files)
            ran = bool(files)
        else:
            result.messages = [m for m in messages if m.kind == scenario.kind]
            result.problems = _message_problems(scenario.kind, messages)
            ran = any(m.tracked == "acknowledged" for m in result.messages)
        if confirmation.get("answer") != "yes":
            result.problems.append(
                "The tester has not confirmed what the system showed"
                if not confirmation
                else "The tester said the system did not show it"
            )
        if not result.problems:
            result.status = "passed"
        elif not ran and not confirmation:
            result.status = "not_run"
        results.append(result)
    return LaReport(run=run, scenarios=results, files=files)
