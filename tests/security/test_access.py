"""Roles: a root's [access] table decides which kinds a user (or their OS groups) may read.

Every refusal must come before any byte of a data file is read, at every entry point
(catalog scan/load/files, ``read``, the CLI), and must be audited.
"""

from __future__ import annotations

import dataclasses
import grp
import json
import os
import pwd
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import omni_research as omr
from omni_research import _guard
from omni_research._access import FAMILIES, access_table, current_identity
from omni_research._layout import DERIVED_KINDS
from omni_research._manifest import read_manifest, write_manifest
from omni_research.cli import main
from omni_research.exceptions import AccessDeniedError, ConfigurationError, OmniDataError

ME = pwd.getpwuid(os.geteuid()).pw_name
MY_GROUP = grp.getgrgid(os.getegid()).gr_name
ROLES = {
    "researcher": ["market"],
    "trading-analyst": ["market", "trading"],
    "agent-dev": ["agent"],
}
# one dataset per family, in several formats: parquet, jsonl, csv.gz, csv
SAMPLES = {"market": ["ohlcv", "news", "sentiment"], "trading": ["fills"], "agent": ["decisions"]}


def _set_access(root: Path, access: dict[str, Any] | None) -> None:
    manifest = read_manifest(root)
    tables = {k: v for k, v in manifest.tables.items() if k != "access"}
    if access is not None:
        tables["access"] = access
    write_manifest(root, dataclasses.replace(manifest, tables=tables))


def _audit_records() -> list[dict[str, Any]]:
    log = Path(os.environ["OMNI_AUDIT_LOG"])
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


@pytest.fixture
def data_opens(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every data file the guard opens (the manifest excluded), in order."""
    opened: list[str] = []
    real_open, real_read = _guard.open_guarded, _guard.read_guarded

    def note(path: object) -> None:
        if not str(path).endswith("omni-data.toml"):
            opened.append(str(path))

    def open_guarded(path: Any) -> Any:
        note(path)
        return real_open(path)

    def read_guarded(path: Any) -> bytes:
        note(path)
        return real_read(path)

    monkeypatch.setattr(_guard, "open_guarded", open_guarded)
    monkeypatch.setattr(_guard, "read_guarded", read_guarded)
    # the readers imported read_guarded by name
    monkeypatch.setattr("omni_research.io._readers.read_guarded", read_guarded)
    yield opened


@pytest.mark.parametrize("role", sorted(ROLES))
@pytest.mark.parametrize("family", sorted(SAMPLES))
def test_each_role_reads_its_families_and_is_refused_the_others(
    small_root: Path, role: str, family: str
) -> None:
    _set_access(small_root, {"roles": ROLES, "users": {ME: [role]}})
    catalog = omr.open_catalog(small_root)
    allowed = family in ROLES[role] or (role == "trading-analyst" and family == "market")
    for kind in SAMPLES[family]:
        if allowed:
            assert (
                catalog.load(kind).height
                == catalog.datasets().filter(name=catalog.dataset(kind).name)["rows"].item()
            )
        else:
            with pytest.raises(AccessDeniedError) as info:
                catalog.load(kind)
            message = str(info.value)
            assert f"user {ME!r}" in message and repr(kind) in message
            assert str(small_root.resolve()) in message
            assert f"({role})" in message  # the roles the user holds
            # the roles that would allow it
            would = [r for r, fams in ROLES.items() if family in fams]
            assert f"Roles that may: {', '.join(would)}" in message
            assert isinstance(info.value, PermissionError)
            assert isinstance(info.value, OmniDataError)


def test_a_refused_kind_never_opens_a_data_file(small_root: Path, data_opens: list[str]) -> None:
    _set_access(small_root, {"roles": ROLES, "users": {ME: ["researcher"]}})
    catalog = omr.open_catalog(small_root)
    for f in catalog.dataset("fills").files:
        f.path.write_bytes(b"not parquet at all: opening it would raise DataFormatError")
    data_opens.clear()
    for attempt in (
        lambda: catalog.load("fills"),
        lambda: catalog.scan("fills"),
        lambda: catalog.files("fills"),
        lambda: omr.read(catalog.dataset("fills").files[0].path, "fills"),
    ):
        with pytest.raises(AccessDeniedError):
            attempt()
    assert data_opens == []
    # the allowed kind is opened (the counter works)
    catalog.load("funding", symbols="BTCUSDT")
    assert data_opens and all("funding" in p for p in data_opens)


def test_read_checks_the_folder_kind_too_not_only_the_kind_named(small_root: Path) -> None:
    _set_access(small_root, {"roles": ROLES, "users": {ME: ["researcher"]}})
    fills = omr.open_catalog(small_root).dataset("fills").files[0].path
    with pytest.raises(AccessDeniedError, match="'fills'"):
        omr.read(fills, "ohlcv")  # lying about the kind does not get past the roles
    catalog = omr.open_catalog(small_root)
    funding = catalog.dataset("funding").files[0]
    assert omr.read(funding.path, "funding").height == catalog.manifest.files[funding.relpath].rows


def test_os_group_membership_gives_its_roles(small_root: Path) -> None:
    _set_access(
        small_root,
        {
            "roles": ROLES,
            "users": {"someone-else": ["agent-dev"]},
            "groups": {MY_GROUP: ["agent-dev"]},
        },
    )
    catalog = omr.open_catalog(small_root)
    assert catalog.load("decisions").height > 0
    with pytest.raises(AccessDeniedError, match=rf"groups: [^)]*{MY_GROUP}"):
        catalog.load("ohlcv")
    # a group the process is not in gives nothing
    other = next(g.gr_name for g in grp.getgrall() if g.gr_name not in current_identity().groups)
    _set_access(small_root, {"roles": ROLES, "groups": {other: ["agent-dev"]}})
    with pytest.raises(AccessDeniedError, match=r"their roles \(none\)"):
        omr.open_catalog(small_root).load("decisions")


def test_a_root_without_an_access_table_lets_everyone_read(small_root: Path) -> None:
    _set_access(small_root, None)
    catalog = omr.open_catalog(small_root)
    assert "access" not in catalog.manifest.tables
    assert access_table(catalog.manifest) is None
    for kinds in SAMPLES.values():
        for kind in kinds:
            assert catalog.load(kind).height > 0


def test_an_empty_roles_table_refuses_every_kind(small_root: Path) -> None:
    _set_access(small_root, {"roles": {}})
    with pytest.raises(AccessDeniedError, match=r"No role of omni-data\.toml may read 'ohlcv'"):
        omr.open_catalog(small_root).load("ohlcv")


@pytest.mark.parametrize(
    ("access", "match"),
    [
        ({"roles": {"r": ["ohlcv", "bitcoins"]}}, r"\[access.roles\] r names 'bitcoins'"),
        ({"roles": {"r": "ohlcv"}}, r"\[access.roles\] r is 'ohlcv'; expected a list"),
        (
            {"roles": {"r": ["market"]}, "users": {ME: ["admin"]}},
            r"users\] \w+ gives the role 'admin'",
        ),
        (
            {"roles": {"r": ["market"]}, "groups": {"g": ["r", "x"]}},
            r"groups\] g gives the role 'x'",
        ),
        ({"roles": {}, "superusers": ["me"]}, r"unknown key\(s\) 'superusers'"),
    ],
)
def test_a_malformed_access_table_is_a_configuration_error_naming_the_entry(
    small_root: Path, access: dict[str, Any], match: str
) -> None:
    _set_access(small_root, access)
    with pytest.raises(ConfigurationError, match=match) as info:
        omr.open_catalog(small_root).load("ohlcv")
    assert "omni-data.toml" in str(info.value)


def test_an_access_key_that_is_not_a_table_fails_closed(small_root: Path) -> None:
    manifest = small_root / "omni-data.toml"
    text = manifest.read_text()
    manifest.write_text(text.replace('tier = "test"', 'tier = "test"\naccess = ["researcher"]'))
    catalog = omr.open_catalog(small_root)
    with pytest.raises(
        ConfigurationError, match=r"access is \['researcher'\]; expected an \[access\] table"
    ):
        catalog.load("ohlcv")


def test_families_cover_every_kind_once() -> None:
    kinds = [k for family in FAMILIES.values() for k in family]
    # the kinds, and the derived datasets (indicators) that roles cover like kinds
    assert sorted(kinds) == sorted([*omr.schemas.MODELS, *DERIVED_KINDS])
    assert len(kinds) == len(set(kinds))


def test_omni_user_is_honoured_only_under_a_listed_service_account(
    small_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OMNI_USER", "alice")
    _set_access(small_root, {"roles": ROLES, "users": {"alice": ["agent-dev"], ME: ["researcher"]}})
    with pytest.raises(
        AccessDeniedError, match=rf"OMNI_USER='alice' names someone other than the OS user '{ME}'"
    ):
        omr.open_catalog(small_root).load("ohlcv")  # ME could read it; the claim is refused
    _set_access(
        small_root,
        {
            "service_accounts": [ME],
            "roles": ROLES,
            "users": {"alice": ["agent-dev"], ME: ["researcher"]},
        },
    )
    catalog = omr.open_catalog(small_root)
    assert catalog.load("decisions").height > 0  # alice's role, not the account's
    with pytest.raises(AccessDeniedError, match="user 'alice'"):
        catalog.load("ohlcv")
    record = _audit_records()[-1]
    assert (record["user"], record["os_user"], record["event"]) == ("alice", ME, "refused")


def test_a_deployment_identity_gets_the_os_groups_it_is_a_member_of(
    small_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a real account of this machine's group database, other than the one running the test
    person = next(p for p in pwd.getpwall() if p.pw_uid != os.geteuid() and p.pw_uid < 1000)
    group = grp.getgrgid(person.pw_gid).gr_name
    monkeypatch.setenv("OMNI_USER", person.pw_name)
    _set_access(
        small_root,
        {"service_accounts": [ME], "roles": ROLES, "groups": {group: ["researcher"]}},
    )
    identity = current_identity(access_table(read_manifest(small_root)))
    assert identity.source == "deployment" and group in identity.groups
    catalog = omr.open_catalog(small_root)
    assert (
        catalog.load("funding").height
        == catalog.datasets().filter(name="historical/funding")["rows"].item()
    )


def test_role_refusals_are_audited_with_user_kind_and_reason(small_root: Path) -> None:
    _set_access(small_root, {"roles": ROLES, "users": {ME: ["researcher"]}})
    catalog = omr.open_catalog(small_root)
    before = len(_audit_records())
    with pytest.raises(AccessDeniedError):
        catalog.load("orders")
    with pytest.raises(AccessDeniedError):
        omr.read(catalog.dataset("pnl").files[0].path, "pnl")
    records = _audit_records()[before:]
    assert [(r["event"], r["reason"], r["kind"], r["user"]) for r in records] == [
        ("refused", "role", "orders", ME),
        ("refused", "role", "pnl", ME),
    ]
    assert records[0]["root"] == str(small_root.resolve())
    assert records[0]["error"] == "AccessDeniedError"


def test_cli_refusal_is_a_message_with_exit_code_2(
    small_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _set_access(small_root, {"roles": ROLES, "users": {ME: ["agent-dev"]}})
    assert main(["validate", "--root", str(small_root)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("omni-research: AccessDeniedError: user ")
    # the console script, as a user runs it: no traceback
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    done = subprocess.run(
        [sys.executable, "-m", "omni_research.cli", "quality", "--root", str(small_root)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode != 0
    output = done.stdout + done.stderr  # quality reports on standard output
    assert f"user {ME!r}" in output and "may not read 'ohlcv'" in output
    assert "Traceback" not in output


@pytest.mark.parametrize(("command", "code"), [("validate", 2), ("report", 1)])
def test_cli_commands_that_read_a_refused_kind_stop_with_the_refusal(
    small_root: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    command: str,
    code: int,
) -> None:
    _set_access(small_root, {"roles": ROLES, "users": {ME: ["agent-dev"]}})
    extra = ["--out", str(tmp_path / "report")] if command == "report" else []
    assert main([command, "--root", str(small_root), *extra]) == code
    captured = capsys.readouterr()
    assert "may not read" in captured.out + captured.err
    assert not (tmp_path / "report").exists() or not any((tmp_path / "report").iterdir())


def test_widgets_stop_at_a_kind_outside_the_roles(small_root: Path) -> None:
    pytest.importorskip("ipywidgets")
    from omni_research.widgets import MarketExplorer, QualityPanel

    _set_access(small_root, {"roles": ROLES, "users": {ME: ["agent-dev"]}})
    with pytest.raises(AccessDeniedError, match="may not read 'ohlcv'"):
        MarketExplorer(omr.open_catalog(small_root))
    panel = QualityPanel(omr.open_catalog(small_root))  # shows the refusal in the panel
    assert "may not read 'ohlcv'" in str(panel.last_error)
    records = _audit_records()
    assert records and {(r["event"], r["reason"]) for r in records} == {("refused", "role")}


def _load_on_worker(context: dict[str, str], kind: str) -> tuple[int, str]:
    """A Ray shard: open the catalog on the worker and load ``kind``; its audit log is the
    one the test names (each node keeps its own log: flock does not span machines)."""
    before = os.environ.get("OMNI_AUDIT_LOG")
    os.environ["OMNI_AUDIT_LOG"] = context["log"]
    try:
        return omr.open_catalog(context["root"]).load(kind).height, str(os.getpid())
    finally:
        if before is None:
            os.environ.pop("OMNI_AUDIT_LOG", None)
        else:
            os.environ["OMNI_AUDIT_LOG"] = before


@pytest.mark.xdist_group("ray")
def test_a_ray_worker_is_refused_like_the_driver_and_audits_it(
    small_root: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    from omni_research._engine import map_shards
    from tests._ray import shared_ray_cluster

    shared_ray_cluster(request.config)  # the suite's loopback cluster, through RAY_ADDRESS
    _set_access(small_root, {"roles": ROLES, "users": {ME: ["researcher"]}})
    expected = omr.open_catalog(small_root).datasets().filter(name="historical/funding")
    context = {"root": str(small_root), "log": str(tmp_path / "worker-audit.jsonl")}
    [(rows, pid)] = map_shards(_load_on_worker, ["funding"], context=context, engine="ray")
    assert rows == expected["rows"].item()
    assert pid != str(os.getpid())  # it ran in a Ray worker, not here
    with pytest.raises(AccessDeniedError, match=f"user {ME!r}.*'fills'"):
        map_shards(_load_on_worker, ["fills"], context=context, engine="ray")
    log = Path(context["log"])
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(r["event"], r["reason"], r["kind"]) for r in records] == [
        ("read", None, "funding"),
        ("refused", "role", "fills"),
    ]
