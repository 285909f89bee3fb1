"""Content-addressed file store: every ingested file is copied to
arquivos_dir/<sha256[:2]>/<sha256><suffix>, so the same content is stored once and a job can always be
re-run from its own copy (the user's original may move or change)."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from pipelines.core.common.errors import ValidationError
from pipelines.core.common.settings import Settings

_BLOCK = 1 << 20


def store_file(settings: Settings, src: Path | bytes, filename: str) -> tuple[Path, str]:
    """Copy a file (path or bytes) into the store; returns (stored path, sha256 hex). Idempotent."""
    suffix = Path(filename).suffix.lower()
    root = settings.arquivos_dir
    root.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(dir=root, prefix=".upload-", suffix=suffix)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            if isinstance(src, bytes | bytearray | memoryview):
                digest.update(src)
                out.write(src)
            else:
                src = Path(src)
                if not src.is_file():
                    raise ValidationError(f"arquivo não encontrado: {src}", field="arquivo")
                with src.open("rb") as fh:
                    while block := fh.read(_BLOCK):
                        digest.update(block)
                        out.write(block)
        sha = digest.hexdigest()
        dest = root / sha[:2] / f"{sha}{suffix}"
        if dest.exists():
            tmp.unlink()
        else:
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, dest)
        return dest, sha
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
