"""What the Lambda ships: functions/ without bytecode, zipped the way the CDK zips an asset directory."""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

ASSET_ROOT = Path(__file__).resolve().parents[1] / "functions"
_EXCLUDED_DIRECTORIES = frozenset({"__pycache__"})
_EXCLUDED_SUFFIXES = (".pyc", ".pyo")
# The CDK (yazl) writes files only, deflated at zlib's default level, with a fixed timestamp.
_FIXED_DATE = (1980, 1, 1, 0, 0, 0)
_ZLIB_DEFAULT_LEVEL = 6


@dataclass(frozen=True)
class AssetSize:
    files: int
    raw_bytes: int
    zip_bytes: int


def shipped_files(root: Path = ASSET_ROOT) -> list[Path]:
    """Every file of the asset, relative to its root, in a stable order."""
    files = []
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if not path.is_file() or _EXCLUDED_DIRECTORIES.intersection(relative.parts[:-1]):
            continue
        if path.suffix in _EXCLUDED_SUFFIXES:
            continue
        files.append(relative)
    return files


def build_asset_zip(destination: Path, root: Path = ASSET_ROOT) -> AssetSize:
    files = shipped_files(root)
    raw = 0
    with zipfile.ZipFile(destination, "w", zipfile.ZIP_DEFLATED) as archive:
        for relative in files:
            data = (root / relative).read_bytes()
            raw += len(data)
            info = zipfile.ZipInfo(relative.as_posix(), date_time=_FIXED_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data, compresslevel=_ZLIB_DEFAULT_LEVEL)
    return AssetSize(files=len(files), raw_bytes=raw, zip_bytes=destination.stat().st_size)


def unpack(archive_path: Path, task_root: Path) -> None:
    """The asset as Lambda unpacks it into /var/task: the measured cold starts import from here."""
    with zipfile.ZipFile(archive_path) as archive:
        archive.extractall(task_root)
