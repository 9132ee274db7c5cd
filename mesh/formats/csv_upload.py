"""The CSV upload, exactly as the web upload and `import_plans` read it (docs/plans.md).

What is not CSV is refused on its first bytes, before anything parses it: XML (whatever its
entities, it is never given to a parser until an HL7 v3 format is shipped), archives and
compressed files (never expanded, so a zip bomb costs nothing), and other binary files. The
rest (encoding, columns, rows, the row limit) is the upload pipeline's, with its own codes.
"""

from mesh.formats.base import FileRefused, UploadFormat

_ARCHIVE_MAGIC = (b"PK\x03\x04", b"PK\x05\x06", b"\x1f\x8b", b"BZh", b"\xfd7zXZ", b"7z\xbc\xaf", b"Rar!")


class CsvUpload(UploadFormat):
    name = "csv"

    def recognises(self, *, filename: str, content_type: str, head: bytes) -> bool:
        # Every file comes here: today this is the only upload format, and it says why it
        # refuses what it does not read.
        return True

    def to_upload_csv(self, content: bytes) -> bytes:
        head = content[:512].lstrip(b"\xef\xbb\xbf \t\r\n")
        if not head:
            raise FileRefused("The file is empty.")
        if head.startswith(_ARCHIVE_MAGIC):
            raise FileRefused("The file is an archive or compressed: send the CSV itself.")
        if head.startswith(b"<"):
            raise FileRefused("XML files are not accepted yet: send the plans as CSV.")
        if b"\x00" in content[:8192]:
            raise FileRefused("The file is not a text file: send the plans as CSV.")
        return content
