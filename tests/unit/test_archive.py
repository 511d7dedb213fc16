"""Hostile archives are refused, naming the member, and leave nothing behind — inside or outside the
target folder. Every archive here is built by the test itself, byte by byte where needed."""

from __future__ import annotations

import io
import os
import stat
import tarfile
import zipfile
from pathlib import Path
from typing import IO, cast

import pytest

from infrec.artifacts.archive import safe_extract
from infrec.artifacts.errors import ArchiveError, ArtifactError
from infrec.artifacts.uri import FileAccess
from infrec.config import Settings


def _tar(path: Path, entries: list[tuple[tarfile.TarInfo, bytes | None]], gz: bool = True) -> Path:
    with tarfile.open(path, "w:gz" if gz else "w") as tf:
        for info, data in entries:
            if data is not None:
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
            else:
                tf.addfile(info)
    return path


def _file(name: str, data: bytes = b"x") -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.mode = 0o644
    return info, data


def _special(name: str, kind: bytes, linkname: str = "") -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    return info, None


def _all_files(root: Path) -> set[str]:
    """Every path under root (links not followed), relative, for 'nothing else was written' checks."""
    out: set[str] = set()
    for dirpath, dirs, files in os.walk(root):
        for n in dirs + files:
            out.add(str((Path(dirpath) / n).relative_to(root)))
    return out


@pytest.fixture
def sandbox(tmp_path: Path) -> Path:
    """A folder holding the archive, the target and a sibling 'outside' folder an attack would hit."""
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "victim.txt").write_text("original")
    return tmp_path


def _refused(sandbox: Path, archive: Path, member: str, match: str, **kw: int) -> ArchiveError:
    dest = sandbox / "dest"
    before = _all_files(sandbox)
    with pytest.raises(ArchiveError, match=match) as info:
        safe_extract(archive, dest, **kw)
    err = info.value
    assert err.member == member
    assert repr(member) in str(err) or member in str(err)
    assert isinstance(err, ArtifactError) and isinstance(err, ValueError)
    # Nothing new anywhere: no dest, no staging folder, no file outside, victim untouched.
    assert _all_files(sandbox) == before
    assert (sandbox / "outside" / "victim.txt").read_text() == "original"
    return err


def test_good_tar_with_dirs_links_and_modes(sandbox: Path) -> None:
    d = tarfile.TarInfo("model/sub")
    d.type = tarfile.DIRTYPE
    exe = tarfile.TarInfo("model/run.sh")
    exe.mode = 0o4755  # setuid must be dropped
    archive = _tar(sandbox / "ok.tar.gz", [
        (d, None),
        _file("./model/weights.bin", b"w" * 1000),
        (exe, b"#!/bin/sh\n"),
        _special("model/sub/link", tarfile.SYMTYPE, "../weights.bin"),
        _special("model/hard", tarfile.LNKTYPE, "model/weights.bin"),
    ])
    out = safe_extract(archive, sandbox / "dest")
    assert out == sandbox / "dest"
    assert (out / "model" / "sub" / "link").read_bytes() == b"w" * 1000
    assert (out / "model" / "hard").read_bytes() == b"w" * 1000
    assert stat.S_IMODE((out / "model" / "run.sh").stat().st_mode) == 0o755
    assert not [p for p in sandbox.iterdir() if p.name.startswith(".dest.extract-")]


def test_plain_uncompressed_tar_and_zip(sandbox: Path) -> None:
    archive = _tar(sandbox / "plain.tar", [_file("a.txt", b"A")], gz=False)
    assert (safe_extract(archive, sandbox / "t") / "a.txt").read_bytes() == b"A"
    zpath = sandbox / "ok.zip"
    with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("dir/b.txt", b"B")
        zf.writestr("c.json", b"{}")
    out = safe_extract(zpath, sandbox / "z")
    assert (out / "dir" / "b.txt").read_bytes() == b"B"
    assert (out / "c.json").read_bytes() == b"{}"


@pytest.mark.parametrize("name", ["../evil.txt", "a/../../evil.txt", "./../outside/victim.txt"])
def test_path_traversal_refused(sandbox: Path, name: str) -> None:
    archive = _tar(sandbox / "t.tar.gz", [_file("fine.txt"), _file(name, b"pwned")])
    _refused(sandbox, archive, name, r"'\.\.'")


def test_absolute_path_refused(sandbox: Path) -> None:
    target = str(sandbox / "outside" / "victim.txt")
    archive = _tar(sandbox / "t.tar.gz", [_file("fine.txt"), _file(target, b"pwned")])
    _refused(sandbox, archive, target, "absolute path")


def test_zip_traversal_and_backslash_names_refused(sandbox: Path) -> None:
    zpath = sandbox / "t.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        zf.writestr("ok.txt", b"ok")
        zf.writestr("..\\outside\\victim.txt", b"pwned")  # a Windows-style traversal
    _refused(sandbox, zpath, "../outside/victim.txt", r"'\.\.'")


@pytest.mark.parametrize("target", ["../outside", "/etc", "sub/../../outside/victim.txt"])
def test_symlink_pointing_outside_refused(sandbox: Path, target: str) -> None:
    archive = _tar(sandbox / "t.tar.gz", [_special("link", tarfile.SYMTYPE, target), _file("link/x", b"pwned")])
    _refused(sandbox, archive, "link", "symlink .* outside")


def test_symlink_chain_escaping_only_when_resolved_refused(sandbox: Path) -> None:
    # Each link looks harmless on its own: d/up -> '..' is the root; esc -> 'd/up/..' is lexically
    # 'd', but resolved through d/up it is the folder above the root.
    d = tarfile.TarInfo("d")
    d.type = tarfile.DIRTYPE
    archive = _tar(sandbox / "t.tar.gz", [
        (d, None), _special("d/up", tarfile.SYMTYPE, ".."), _special("esc", tarfile.SYMTYPE, "d/up/.."),
    ])
    _refused(sandbox, archive, "esc", "resolves outside")


def test_writing_through_a_link_refused(sandbox: Path) -> None:
    # A link to a folder inside, then a file "through" it: the file must never be written via a link.
    archive = _tar(sandbox / "t.tar.gz", [
        _special("sub", tarfile.SYMTYPE, "."), _file("sub/x.txt", b"1"),
    ])
    _refused(sandbox, archive, "sub", "already exists")


@pytest.mark.parametrize("target", ["../outside/victim.txt", "/etc/passwd", "missing.txt"])
def test_hardlink_outside_or_unknown_refused(sandbox: Path, target: str) -> None:
    archive = _tar(sandbox / "t.tar.gz", [_file("fine.txt"), _special("h", tarfile.LNKTYPE, target)])
    err = _refused(sandbox, archive, "h", "hard link")
    assert target in str(err)


@pytest.mark.parametrize(("kind", "word"), [(tarfile.CHRTYPE, "device"), (tarfile.BLKTYPE, "device"),
                                            (tarfile.FIFOTYPE, "FIFO")])
def test_device_files_and_fifos_refused(sandbox: Path, kind: bytes, word: str) -> None:
    archive = _tar(sandbox / "t.tar.gz", [_file("fine.txt"), _special("dev/null2", kind)])
    _refused(sandbox, archive, "dev/null2", word)


def test_zip_symlink_outside_and_device_refused(sandbox: Path) -> None:
    zpath = sandbox / "t.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        info = zipfile.ZipInfo("evil-link")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "../outside")
    _refused(sandbox, zpath, "evil-link", "symlink")
    zpath2 = sandbox / "t2.zip"
    with zipfile.ZipFile(zpath2, "w") as zf:
        info = zipfile.ZipInfo("tty")
        info.external_attr = (stat.S_IFCHR | 0o666) << 16
        zf.writestr(info, b"")
    _refused(sandbox, zpath2, "tty", "device")


def test_gzip_size_bomb_refused(sandbox: Path) -> None:
    # 64 MiB of zeros compresses to ~64 KiB: refused against a 16 MiB limit, before it is expanded.
    big = 64 * 1024 * 1024
    path = sandbox / "bomb.tar.gz"
    with tarfile.open(path, "w:gz") as tf:
        info = tarfile.TarInfo("zeros.bin")
        info.size = big

        class Zeros:
            """64 MiB of zeros without holding them in memory; tarfile only calls read()."""

            left = big

            def read(self, n: int = -1) -> bytes:
                n = self.left if n < 0 else min(n, self.left)
                self.left -= n
                return bytes(n)

        tf.addfile(info, cast(IO[bytes], Zeros()))
    assert path.stat().st_size < 1024 * 1024
    err = _refused(sandbox, path, "zeros.bin", "expands past the limit", max_total_bytes=16 * 1024 * 1024)
    assert "16777216" in str(err)


def test_many_small_files_counted_against_the_limit(sandbox: Path) -> None:
    # Each member is under the limit; the bytes actually written add up past it.
    archive = _tar(sandbox / "t.tar.gz", [_file(f"f{i}", b"y" * 400) for i in range(5)])
    _refused(sandbox, archive, "f2", "expands past", max_total_bytes=1000)


def test_zip_bomb_refused_by_bytes_written(sandbox: Path) -> None:
    zpath = sandbox / "bomb.zip"
    with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("zeros.bin", bytes(8 * 1024 * 1024))
    assert zpath.stat().st_size < 64 * 1024
    _refused(sandbox, zpath, "zeros.bin", "expands past", max_total_bytes=1024 * 1024)


def test_zip_with_lying_size_header_refused(sandbox: Path) -> None:
    # The central directory claims 100 bytes; the data inflates to 8 MiB. Whatever the header says,
    # extraction stops at what it may write and nothing is kept.
    zpath = sandbox / "liar.zip"
    with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("liar.bin", bytes(8 * 1024 * 1024))
    raw = bytearray(zpath.read_bytes())
    cd = raw.rindex(b"PK\x01\x02")
    raw[cd + 24:cd + 28] = (100).to_bytes(4, "little")
    zpath.write_bytes(bytes(raw))
    dest = sandbox / "dest"
    before = _all_files(sandbox)
    with pytest.raises(ArchiveError) as info:
        safe_extract(zpath, dest, max_total_bytes=1024 * 1024)
    assert "liar.bin" in str(info.value) or "CRC" in str(info.value)
    assert _all_files(sandbox) == before


def test_limits_from_the_settings(sandbox: Path) -> None:
    """The operator's limits reach every extraction through FileAccess, built from the settings."""
    archive = _tar(sandbox / "t.tar.gz", [_file("big.txt", b"z" * 101)])
    files = FileAccess.from_settings(Settings.from_env({"INFREC_MAX_ARCHIVE_BYTES": "100"}))
    with pytest.raises(ArchiveError, match="INFREC_MAX_ARCHIVE_BYTES") as info:
        files.fetch_and_extract(str(archive), sandbox / "dest")
    assert info.value.member == "big.txt"
    many = _tar(sandbox / "many.tar.gz", [_file(f"f{i}") for i in range(11)])
    files = FileAccess.from_settings(Settings.from_env({"INFREC_MAX_ARCHIVE_MEMBERS": "10"}))
    with pytest.raises(ArchiveError, match="more than 10 entries"):
        files.fetch_and_extract(str(many), sandbox / "dest")
    with pytest.raises(ValueError, match="INFREC_MAX_ARCHIVE_BYTES='lots'"):
        Settings.from_env({"INFREC_MAX_ARCHIVE_BYTES": "lots"})


def test_too_many_members_refused(sandbox: Path) -> None:
    archive = _tar(sandbox / "t.tar.gz", [_file(f"f{i}") for i in range(11)])
    _refused(sandbox, archive, "f10", "more than 10 entries", max_members=10)


def test_failed_extraction_keeps_existing_dest_as_it_was(sandbox: Path) -> None:
    dest = sandbox / "dest"
    dest.mkdir()
    (dest / "keep.txt").write_text("mine")
    archive = _tar(sandbox / "t.tar.gz", [_file("new.txt", b"n"), _file("keep.txt", b"over"), _file("../x")])
    with pytest.raises(ArchiveError):
        safe_extract(archive, dest)
    assert _all_files(dest) == {"keep.txt"}
    assert (dest / "keep.txt").read_text() == "mine"


def test_existing_link_in_dest_is_replaced_not_followed(sandbox: Path) -> None:
    dest = sandbox / "dest"
    dest.mkdir()
    (dest / "cfg").symlink_to(sandbox / "outside")
    archive = _tar(sandbox / "t.tar.gz", [_file("cfg/victim.txt", b"pwned")])
    safe_extract(archive, dest)
    assert (sandbox / "outside" / "victim.txt").read_text() == "original"
    assert not (dest / "cfg").is_symlink()
    assert (dest / "cfg" / "victim.txt").read_bytes() == b"pwned"


def test_not_an_archive_and_corrupt_archive(sandbox: Path) -> None:
    junk = sandbox / "junk.bin"
    junk.write_bytes(b"hello, not an archive")
    with pytest.raises(ArchiveError, match="not a tar or zip archive"):
        safe_extract(junk, sandbox / "dest")
    good = _tar(sandbox / "t.tar.gz", [_file("a", os.urandom(200_000))])
    cut = sandbox / "cut.tar.gz"
    cut.write_bytes(good.read_bytes()[:50_000])
    with pytest.raises(ArchiveError, match="corrupt"):
        safe_extract(cut, sandbox / "dest")
    assert not (sandbox / "dest").exists()
    with pytest.raises(ArchiveError, match="no such archive"):
        safe_extract(sandbox / "nope.tar.gz", sandbox / "dest")
