from typing import Any


class FileRefused(Exception):
    """The whole file is refused (CPF01); `message` is what the sender is told."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UploadFormat:
    name: str = ""

    def recognises(self, *, filename: str, content_type: str, head: bytes) -> bool:
        """Whether this format reads the file, from its name, type and first bytes only."""
        raise NotImplementedError

    def to_upload_csv(self, content: bytes) -> bytes:
        """The file as the upload pipeline reads it; FileRefused if it cannot be."""
        raise NotImplementedError


class AnswerFormat:
    name: str = ""
    extension: str = ""
    content_type: str = ""

    def acknowledgement(self, acknowledgement: dict[str, Any]) -> bytes:
        raise NotImplementedError

    def notification(self, notification: dict[str, Any]) -> bytes:
        raise NotImplementedError

    def error(self, *, file_code: str, message: str, message_id: str) -> bytes:
        raise NotImplementedError
