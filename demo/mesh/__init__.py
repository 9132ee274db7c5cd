"""The demo's MESH: a local mesh-sandbox (sandbox.py) with our mailbox and the demo LAs'."""

SERVICE_MAILBOX = "X26CPIS01"
LA_MAILBOXES = {"LA001": "LA001MB01", "LA002": "LA002MB01"}
