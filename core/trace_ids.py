"""A caller's TraceID as the FHIR API takes it (docs/fhir.md "Headers"), and so as the audit log
and the log lines carry it.

The national guide recommends a UUID and requires nothing more; EPRs send .NET's braced `{…}`
form, prefixed ids and longer correlation ids. So any visible ASCII token is taken, up to 200
characters (the audit log's column): nothing that could split a log line or a header.
"""

import re

TRACE_ID = re.compile(r"^[\x21-\x7e]{1,200}$")
