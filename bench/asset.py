"""What a Lambda function ships: its packages of functions/ staged with their bytecode by
infra/function_asset.py (the same function the stack deploys), zipped the way the CDK zips an asset
directory. The API function's (calls/) is the one the asset budget holds."""

from __future__ import annotations

import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from infra.function_asset import API_PACKAGES, FUNCTIONS_DIR, stage_function_asset

ASSET_ROOT = FUNCTIONS_DIR
# The CDK (yazl) writes files only, deflated at zlib's default level, with a fixed timestamp.
_FIXED_DATE = (1980, 1, 1, 0, 0, 0)
_ZLIB_DEFAULT_LEVEL = 6


@dataclass(frozen=True)
class AssetSize:
    files: int
    raw_bytes: int
    zip_bytes: int
    compiled_modules: int  # modules shipped with their bytecode


def shipped_files(staged: Path) -> list[Path]:
    """Every file of a staged asset, relative to its root, in a stable order."""
    return sorted(path.relative_to(staged) for path in staged.rglob("*") if path.is_file())


def build_asset_zip(
    destination: Path,
    source: Path = ASSET_ROOT,
    *,
    packages: tuple[str, ...] = API_PACKAGES,
    bytecode: bool = True,
) -> AssetSize:
    """`packages` of `source` (functions/ or a copy of it) as the stack would ship them, zipped into
    `destination`. `bytecode=False` packs the sources alone, as the asset was before it shipped bytecode.
    """
    with tempfile.TemporaryDirectory(prefix="video-calls-asset-") as scratch:
        staged = stage_function_asset(
            Path(scratch) / "functions", source, packages=packages, bytecode=bytecode
        )
        files = shipped_files(staged.path)
        raw = 0
        with zipfile.ZipFile(destination, "w", zipfile.ZIP_DEFLATED) as archive:
            for relative in files:
                data = (staged.path / relative).read_bytes()
                raw += len(data)
                info = zipfile.ZipInfo(relative.as_posix(), date_time=_FIXED_DATE)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                archive.writestr(info, data, compresslevel=_ZLIB_DEFAULT_LEVEL)
    return AssetSize(
        files=len(files),
        raw_bytes=raw,
        zip_bytes=destination.stat().st_size,
        compiled_modules=staged.compiled,
    )


def unpack(archive_path: Path, task_root: Path) -> None:
    """The asset as Lambda unpacks it into /var/task: the measured cold starts import from here."""
    with zipfile.ZipFile(archive_path) as archive:
        archive.extractall(task_root)
