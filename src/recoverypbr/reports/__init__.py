"""Report writers: a statement document as CSV, JSON, XLSX and PDF.

Every writer reads the same statement document (`payments.statements.Statement.document()`), so the formats always
agree. CSV and JSON are for machines and are byte-identical for the same document; XLSX (a summary sheet and a lines
sheet) and PDF are for people.
"""

from __future__ import annotations

from recoverypbr.reports.files import FORMATS, statement_stem, write_statement

__all__ = ["FORMATS", "statement_stem", "write_statement"]
