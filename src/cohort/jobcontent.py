"""The content hash of a job archive, for retry-safe submit tokens.

Two submits are "the same job content" when their validated archives hold the same files with
the same bytes at the same paths relative to the job root. A single wrapper folder
(``zip -r my_job.zip my_job/``) is not part of the content, so zipping a folder and submitting
it directly hash the same; how the archive was compressed, ordered or timestamped does not
matter either.
"""

from __future__ import annotations

import hashlib
import io
import zipfile

from cohort.jobfolder import JobFolder

__all__ = ["job_content_sha256"]


def _root_prefix(names: set[str]) -> str:
    """The wrapper folder the validator stripped ("" when meta.json is at the top)."""
    if "meta.json" in names:
        return ""
    for name in names:
        top, _, rest = name.partition("/")
        if rest == "meta.json":
            return top + "/"
    return ""


def job_content_sha256(data: bytes, folder: JobFolder) -> str:
    """Hash the sorted (relative path, sha256 of content) pairs of a validated archive.

    ``folder`` is what :func:`cohort.jobfolder.validate_job_zip` returned for ``data``.
    Python byte-code caches are left out, as the client's packer leaves them out.
    """
    outer = hashlib.sha256()
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        names = {i.filename for i in zf.infolist() if not i.is_dir()}
        prefix = _root_prefix(names)
        for rel in sorted(folder.names):
            if "__pycache__" in rel.split("/"):
                continue
            inner = hashlib.sha256()
            with zf.open(prefix + rel) as fh:
                while chunk := fh.read(1024 * 1024):
                    inner.update(chunk)
            outer.update(f"{rel}\0{inner.hexdigest()}\n".encode())
    return outer.hexdigest()
