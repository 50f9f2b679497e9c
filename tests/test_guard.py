"""The production guard: nothing gets around it, and it runs before any byte is read."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

import omni_research as omr
from omni_research import _guard
from omni_research.exceptions import ProductionDataError


def _production_root(tmp_path: Path, small_root: Path) -> Path:
    prod = tmp_path / "prod_data"
    shutil.copytree(small_root, prod)
    manifest = prod / "omni-data.toml"
    manifest.write_text(manifest.read_text().replace('tier = "test"', 'tier = "production"'))
    return prod


def test_open_catalog_on_production_tier_raises(tmp_path: Path, small_root: Path) -> None:
    prod = _production_root(tmp_path, small_root)
    with pytest.raises(ProductionDataError, match="declares tier production"):
        omr.open_catalog(prod)


def test_read_file_below_production_root_raises(tmp_path: Path, small_root: Path) -> None:
    prod = _production_root(tmp_path, small_root)
    target = next((prod / "historical" / "funding").rglob("*.parquet"))
    with pytest.raises(ProductionDataError):
        omr.read(target, "funding")


@pytest.mark.parametrize("trick", ["symlink", "dotdot", "relative", "case"])
def test_guard_tricks_do_not_get_around_production(
    tmp_path: Path, small_root: Path, monkeypatch: pytest.MonkeyPatch, trick: str
) -> None:
    prod = _production_root(tmp_path, small_root)
    target = next((prod / "historical" / "funding").rglob("*.parquet"))
    if trick == "symlink":
        link = tmp_path / "innocent"
        link.symlink_to(target.parent, target_is_directory=True)
        path: str | Path = link / target.name
    elif trick == "dotdot":
        path = str(tmp_path / "elsewhere" / ".." / "prod_data" / target.relative_to(prod))
    elif trick == "relative":
        monkeypatch.chdir(prod / "historical")
        path = os.path.relpath(target, prod / "historical")
    else:
        monkeypatch.setenv("OMNI_PRODUCTION_PATHS", str(tmp_path / "PROD_DATA"))
        (prod / "omni-data.toml").write_text('tier = "research"\nschema_version = "1.0"\n')
        path = target
    with pytest.raises(ProductionDataError):
        omr.read(path, "funding")


def test_real_time_folder_is_refused_in_any_case(small_root: Path) -> None:
    folder = small_root / "Real_Time" / "ohlcv"
    folder.mkdir(parents=True)
    src = next((small_root / "historical" / "funding").rglob("*.parquet"))
    shutil.copy(src, folder / "x.parquet")
    with pytest.raises(ProductionDataError, match="real_time"):
        omr.read(folder / "x.parquet", "funding")


def test_production_paths_env_refuses_prefix_and_uri(
    small_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OMNI_PRODUCTION_PATHS", f"s3://omni-prod,{small_root / 'historical'}")
    with pytest.raises(ProductionDataError, match="OMNI_PRODUCTION_PATHS"):
        _guard.check_path("S3://omni-prod/ohlcv/part-0.parquet")
    with pytest.raises(ProductionDataError, match="OMNI_PRODUCTION_PATHS"):
        omr.open_catalog(small_root).load("ohlcv")
    _guard.check_path(small_root / "test")  # a sibling folder stays readable


def test_guard_runs_before_the_file_is_opened(
    tmp_path: Path, small_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prod = _production_root(tmp_path, small_root)
    target = next((prod / "historical" / "funding").rglob("*.parquet"))
    opened: list[str] = []
    real_open = open

    def spy(file: object, *args: object, **kwargs: object) -> object:
        if str(file).endswith(".parquet"):
            opened.append(str(file))
        return real_open(file, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr("builtins.open", spy)
    with pytest.raises(ProductionDataError):
        omr.read(target, "funding")
    assert opened == []


def test_guard_has_no_switch() -> None:
    import inspect

    # the guard's entry points take the path and nothing else: no option can turn them off
    for entry in (_guard.check_path, _guard.open_guarded, _guard.read_guarded):
        assert list(inspect.signature(entry).parameters) == ["path"]
    assert not [name for name in dir(_guard) if "disable" in name.lower() or "skip" in name.lower()]


# -- issue 15: the guard sees paths as the OS does -------------------------------------------


def _funding_file(root: Path) -> Path:
    return next((root / "historical" / "funding").rglob("*.parquet"))


def test_symlinked_folder_then_dotdot_is_resolved_as_the_os_does(
    tmp_path: Path, small_root: Path
) -> None:
    prod = _production_root(tmp_path, small_root)
    secret = _funding_file(prod)
    res = tmp_path / "res"
    res.mkdir()
    (res / "lnk").symlink_to(secret.parent / "deeper", target_is_directory=True)
    (secret.parent / "deeper").mkdir()
    path = res / "lnk" / ".." / secret.name  # lexically res/<name>; the OS opens prod's file
    assert os.path.samefile(path, secret)
    assert _guard.canonical(path) == secret.resolve()
    with pytest.raises(ProductionDataError, match="declares tier production"):
        omr.read(path, "funding")


def test_colon_slash_slash_inside_a_local_path_is_a_path_not_a_uri(
    tmp_path: Path, small_root: Path
) -> None:
    prod = _production_root(tmp_path, small_root)
    secret = _funding_file(prod)
    res = tmp_path / "res"
    res.mkdir()
    (res / "x:").symlink_to(secret.parent, target_is_directory=True)
    path = f"{res}/x://{secret.name}"
    assert os.path.samefile(path, secret)
    with pytest.raises(ProductionDataError, match="declares tier production"):
        omr.read(path, "funding")


@pytest.mark.parametrize(
    "uri", ["foo://bucket/x.parquet", "HTTP://host/x.parquet", "s3+evil://omni-prod/x.parquet"]
)
def test_unknown_uri_schemes_are_refused(uri: str) -> None:
    with pytest.raises(ProductionDataError, match="unknown URI scheme"):
        _guard.check_path(uri)


@pytest.mark.parametrize(
    "uri",
    ["s3a://omni-prod/ohlcv/x.parquet", "S3N://OMNI-PROD/x.parquet", "s3://omni-prod"],
)
def test_scheme_aliases_name_the_same_bucket(monkeypatch: pytest.MonkeyPatch, uri: str) -> None:
    monkeypatch.setenv("OMNI_PRODUCTION_PATHS", "s3://omni-prod")
    with pytest.raises(ProductionDataError, match="OMNI_PRODUCTION_PATHS"):
        _guard.check_uri(uri)
    assert _guard.check_uri("s3://omni-prod-research/x.parquet")  # a longer name is another bucket


def test_a_known_uri_is_not_opened_as_a_local_path(tmp_path: Path) -> None:
    with pytest.raises(omr.ConfigurationError, match="local files only"):
        omr.read("s3://research/x.parquet", "funding")


def test_read_refuses_a_folder_named_like_a_file(tmp_path: Path, small_root: Path) -> None:
    prod = _production_root(tmp_path, small_root)
    folder = tmp_path / "res" / "b.parquet"
    folder.mkdir(parents=True)
    (folder / "part.parquet").symlink_to(_funding_file(prod))
    with pytest.raises(omr.DataFormatError, match="is a folder; expected one regular data file"):
        omr.read(folder, "funding")
    csv_folder = tmp_path / "res" / "c.csv"
    csv_folder.mkdir()
    with pytest.raises(omr.DataFormatError, match="is a folder"):
        omr.read(csv_folder, "sentiment")


def test_tilde_opens_the_file_the_guard_checked(
    tmp_path: Path, small_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prod = _production_root(tmp_path, small_root)
    home = tmp_path / "home"
    home.mkdir()
    mine = _funding_file(small_root)
    shutil.copy(mine, home / "f.parquet")
    live = prod / "real_time" / "~"
    live.mkdir(parents=True)
    shutil.copy(next((prod / "historical" / "funding").rglob("*.parquet")), live / "f.parquet")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(prod / "real_time")  # "~/f.parquet" taken literally is a live file
    df = omr.read("~/f.parquet", "funding")
    assert df.equals(omr.read(mine, "funding"))


def test_hard_links_are_refused(tmp_path: Path, small_root: Path) -> None:
    prod = _production_root(tmp_path, small_root)
    res = tmp_path / "res"
    res.mkdir()
    os.link(_funding_file(prod), res / "f.parquet")
    with pytest.raises(ProductionDataError, match="2 hard links"):
        omr.read(res / "f.parquet", "funding")


@pytest.mark.parametrize(
    ("path", "message"),
    [("a\x00b.parquet", "NUL byte"), ("", "empty"), (3, "expected a path")],
)
def test_paths_that_are_not_paths_raise_configuration_errors(path: object, message: str) -> None:
    with pytest.raises(omr.ConfigurationError, match=message):
        omr.read(path, "funding")  # type: ignore[arg-type]


def test_a_symlink_loop_as_the_root_raises_configuration_error(tmp_path: Path) -> None:
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    with pytest.raises(omr.ConfigurationError, match="symlink loop"):
        omr.open_catalog(tmp_path / "a")


def test_a_file_swapped_for_a_symlink_after_the_check_is_refused_at_open(
    tmp_path: Path, small_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prod = _production_root(tmp_path, small_root)
    mine = _funding_file(small_root)
    real_check = _guard.check_path

    def check_then_swap(path: str | os.PathLike[str]) -> Path:
        checked = real_check(path)
        if checked == mine.resolve():  # the attacker wins the race right after the check
            mine.unlink()
            mine.symlink_to(_funding_file(prod))
        return checked

    monkeypatch.setattr(_guard, "check_path", check_then_swap)
    with pytest.raises(ProductionDataError, match="became a symlink"):
        _guard.read_guarded(mine)


def test_a_folder_swapped_for_a_symlink_after_the_check_is_refused_at_open(
    tmp_path: Path, small_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prod = _production_root(tmp_path, small_root)
    mine = _funding_file(small_root)
    folder = mine.parent
    real_check = _guard.check_path

    def check_then_swap(path: str | os.PathLike[str]) -> Path:
        checked = real_check(path)
        if checked == mine.resolve():
            shutil.rmtree(folder)
            folder.symlink_to(_funding_file(prod).parent, target_is_directory=True)
        return checked

    monkeypatch.setattr(_guard, "check_path", check_then_swap)
    with pytest.raises(ProductionDataError, match="the OS opened"):
        _guard.read_guarded(mine)
