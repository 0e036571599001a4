"""The project's exceptions.

Every error says what was wrong, where, and what to do::

    RecoveryPbrError
    ├── DataError        an input file or table that cannot be read as a whole
    ├── ContractError    a contract file that is invalid (later issues)
    └── WarehouseError   the warehouse cannot be opened, migrated or written
"""

from __future__ import annotations


class RecoveryPbrError(Exception):
    """Root of every error raised on purpose by recoverypbr."""

    def __init__(self, message: str, *, hint: str = "") -> None:
        self.message = message
        self.hint = hint
        super().__init__(f"{message} Hint: {hint}" if hint else message)


class DataError(RecoveryPbrError):
    """An input file cannot be used: missing, unreadable, or lacking a required column."""

    def __init__(
        self,
        message: str,
        *,
        file: str = "",
        row: int | None = None,
        column: str = "",
        hint: str = "",
    ) -> None:
        self.file = file
        self.row = row
        self.column = column
        where = ", ".join(
            part
            for part in (file, f"row {row}" if row is not None else "", f"column {column}" if column else "")
            if part
        )
        super().__init__(f"{where}: {message}" if where else message, hint=hint)


class ContractError(RecoveryPbrError):
    """A contract file breaks a rule; `path` is where in the file."""

    def __init__(self, message: str, *, path: str = "", hint: str = "") -> None:
        self.path = path
        super().__init__(f"{path}: {message}" if path else message, hint=hint)


class WarehouseError(RecoveryPbrError):
    """The warehouse cannot be opened, migrated or written."""
