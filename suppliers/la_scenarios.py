"""The script an LA system's conformance run publishes (suppliers/la_conformance.py): the
files the system must send through MESH, and the answers and notifications it must fetch and
acknowledge. Judged in suppliers/la_judge.py."""

from dataclasses import dataclass

from plans.models import ROW_REJECTED, FileCode, RejectReason


@dataclass(frozen=True)
class LaScenario:
    key: str
    title: str
    instruction: str
    # What the tester confirms the system showed its user.
    confirm: str
    # "file": a file from the run's mailbox must get `file_code` (and, if named, these row
    # reasons); "answer": every answer we sent the mailbox fetched and acknowledged;
    # "notification": every notification likewise.
    kind: str
    file_code: str = ""
    row_reasons: tuple[str, ...] = ()


LA_SCENARIOS: tuple[LaScenario, ...] = (
    LaScenario(
        "good_file",
        "A file every row of which is accepted",
        "Send a plan file (workflow CPIS_UPLOAD) with a plan for each of the good numbers below, every row valid.",
        "The system showed the acknowledgement: all rows accepted (CPF02).",
        "file",
        file_code=FileCode.CPF02,
    ),
    LaScenario(
        "rejected_rows",
        "A file with rejected rows",
        "Send a plan file with the rows below: one valid, one with an invalid NHS number (wrong check digit), "
        "one with a start date in the future.",
        f"The system showed the rejected rows ({ROW_REJECTED}) with their reasons, ready to correct and resend.",
        "file",
        file_code=FileCode.CPF03,
        row_reasons=(RejectReason.INVALID_NHS_NUMBER, RejectReason.FUTURE_DATE),
    ),
    LaScenario(
        "unreadable_file",
        "A file CP-IS cannot read",
        "Send a file whose header row is not the plan file's columns (for instance a spreadsheet saved with "
        "other column names).",
        "The system showed that the file was refused as unreadable (CPF01).",
        "file",
        file_code=FileCode.CPF01,
    ),
    LaScenario(
        "answers_acknowledged",
        "Every acknowledgement fetched and acknowledged",
        "Fetch every message CP-IS sends your mailbox with workflow CPIS_UPLOAD_ACK (acknowledgements and "
        "rejected-rows reports) and acknowledge each in MESH once your system has stored it.",
        "The system tied each acknowledgement to the file it sent (Mex-LocalID).",
        "answer",
    ),
    LaScenario(
        "notification_acknowledged",
        "The notification fetched and acknowledged",
        "The run's synthetic care setting has checked the notification child below: fetch the notification "
        "(workflow CPIS_NOTIFICATION) and acknowledge it in MESH once your system has stored it.",
        "The system showed the notification to the LA's user: the child, the care setting and the time.",
        "notification",
    ),
)

LA_BY_KEY = {scenario.key: scenario for scenario in LA_SCENARIOS}
