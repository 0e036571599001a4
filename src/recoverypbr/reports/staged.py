"""A file written under a hidden temporary name beside it and renamed into place only once it is whole.

The statement writers write large files in pieces (CSV and JSON in chunks, the XLSX through a temporary workbook),
so a file under its own name would be readable, and look complete, part-way through. Writing to
`.<name>.<random>.part` in the same folder and renaming it over `<name>` when done (an atomic rename on POSIX)
means `<name>` is either absent, the previous whole file, or the new whole file; a writer that fails removes its
part file. Statement sets (`reports.sets`) are also written into a folder of their own and put in place whole.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def staged(path: Path) -> Iterator[Path]:
    """A temporary path beside `path`, renamed to `path` when the block ends normally, removed when it raises."""
    # Not tempfile.mkstemp: its file is private to the owner (0600) and the rename would keep that; the part file
    # is made by the writer, with the permissions any file it writes gets.
    part = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.part")
    try:
        yield part
        os.replace(part, path)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
