"""Message formats, one module per format behind one interface (docs/la-interface.md).

An *upload format* turns a received file into the CSV the upload pipeline reads (or refuses it
with a reason); an *answer format* encodes what we send back (acknowledgements, notifications).
Shipped: `csv_upload` (the web upload's CSV) and `json_answers`. The national HL7 v3 messages
are not shipped (docs/adr/ADR-018-mesh-formats.md): a module for them implements the same two
interfaces and is added to `UPLOAD_FORMATS` / `ANSWER_FORMAT`.
"""

from mesh.formats.base import AnswerFormat, FileRefused, UploadFormat
from mesh.formats.csv_upload import CsvUpload
from mesh.formats.json_answers import JsonAnswers

UPLOAD_FORMATS: tuple[UploadFormat, ...] = (CsvUpload(),)
ANSWER_FORMAT: AnswerFormat = JsonAnswers()


def upload_format_for(*, filename: str, content_type: str, head: bytes) -> UploadFormat:
    """The format that reads this file; FileRefused (CPF01) if none does."""
    for upload_format in UPLOAD_FORMATS:
        if upload_format.recognises(filename=filename, content_type=content_type, head=head):
            return upload_format
    raise FileRefused("The file is not in a format we accept: send the plans as CSV.")


__all__ = ["ANSWER_FORMAT", "AnswerFormat", "FileRefused", "UploadFormat", "upload_format_for"]
