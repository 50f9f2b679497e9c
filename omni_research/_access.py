"""Who reads, and what their roles let them read: a data root's ``[access]`` table.

The table lives in the root's manifest (``omni-data.toml``)::

    [access]
    service_accounts = ["jupyter"]      # optional: OS accounts that may carry OMNI_USER

    [access.roles]
    researcher = ["market"]             # kind families or kinds
    trading-analyst = ["market", "trading"]
    agent-dev = ["agent", "ohlcv"]

    [access.users]
    alice = ["researcher"]

    [access.groups]
    quants = ["researcher"]             # OS groups

A read of a kind needs a role, given to the user or to one of the user's OS groups, whose
list names the kind or its family (:data:`FAMILIES`). A root with no ``[access]`` table
lets everyone read every kind (the kit's behaviour before roles existed); a root with one
refuses whatever it does not grant.

**Who reads.** By default the OS user of the process (the kernel authenticated it) and
the OS groups of the process. A deployment that runs many people under one service
account (JupyterHub with a shared account, a Ray cluster) names the person in
``OMNI_USER``; it is honoured only when the process runs as an OS account listed in
``service_accounts``: an environment variable is a claim anyone can make, so a person
with an own OS account cannot use it to become someone else. Under a service account the
claim is only as trustworthy as whoever sets the process environment (the spawner);
docs/security.md states this in the threat model.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from omni_research._layout import DERIVED_KINDS
from omni_research._manifest import Manifest
from omni_research._typing import KINDS
from omni_research.config import MANIFEST_NAME, settings
from omni_research.exceptions import AccessDeniedError, ConfigurationError

__all__ = [
    "FAMILIES",
    "AccessTable",
    "Identity",
    "access_table",
    "check_read",
    "current_identity",
    "os_groups",
    "os_user",
]

FAMILIES: dict[str, tuple[str, ...]] = {
    "market": (
        "ohlcv",
        "trades",
        "orderbook",
        "funding",
        "open_interest",
        "instruments",
        "coins",
        "news",
        "sentiment",
        "posts",
        "indicators",
    ),
    "trading": ("orders", "fills", "positions", "pnl"),
    "agent": ("agent_metrics", "decisions"),
}
"""Kind families a role may name instead of single kinds."""

assert sorted(k for kinds in FAMILIES.values() for k in kinds) == sorted((*KINDS, *DERIVED_KINDS))

_KEYS = ("roles", "users", "groups", "service_accounts")


@dataclass(frozen=True, kw_only=True)
class AccessTable:
    """A root's ``[access]`` table, checked.

    Attributes
    ----------
    roles : dict of str to frozenset of str
        Role -> the kinds it may read (families expanded).
    users, groups : dict of str to tuple of str
        User or OS group -> its roles.
    service_accounts : tuple of str
        OS accounts whose processes may name their reader in ``OMNI_USER``.
    """

    roles: dict[str, frozenset[str]]
    users: dict[str, tuple[str, ...]]
    groups: dict[str, tuple[str, ...]]
    service_accounts: tuple[str, ...] = ()

    def roles_of(self, identity: Identity) -> tuple[str, ...]:
        """The roles ``identity`` holds, by user name and by OS group."""
        held = list(self.users.get(identity.user, ()))
        for group in identity.groups:
            held += self.groups.get(group, ())
        return tuple(dict.fromkeys(held))

    def roles_for(self, kind: str) -> tuple[str, ...]:
        """The roles that may read ``kind``."""
        return tuple(role for role, kinds in self.roles.items() if kind in kinds)


@dataclass(frozen=True, kw_only=True)
class Identity:
    """Who reads.

    Attributes
    ----------
    user : str
        The name roles are looked up by (and the audit log records).
    os_user : str
        The OS account the process runs as.
    groups : tuple of str
        OS groups of the reader.
    source : {"os", "deployment"}
        ``"deployment"`` when ``user`` came from ``OMNI_USER`` under a service account.
    """

    user: str
    os_user: str
    groups: tuple[str, ...]
    source: Literal["os", "deployment"] = "os"


def os_user() -> str:
    """The OS account of this process, from its effective uid (``$USER`` can say anything)."""
    import pwd

    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:  # a uid with no account (a container run with --user 12345)
        return str(os.geteuid())


def os_groups(user: str | None = None) -> tuple[str, ...]:
    """The OS groups of this process, or (for a deployment identity) of ``user``."""
    import grp
    import pwd

    gids: set[int] = set()
    if user is None:
        gids = {*os.getgroups(), os.getegid()}
    else:
        with contextlib.suppress(KeyError):  # a person without an OS account of their own
            gids.add(pwd.getpwnam(user).pw_gid)
        gids |= {g.gr_gid for g in grp.getgrall() if user in g.gr_mem}
    names = []
    for gid in sorted(gids):
        try:
            names.append(grp.getgrgid(gid).gr_name)
        except KeyError:
            names.append(str(gid))
    return tuple(names)


def current_identity(table: AccessTable | None = None, *, root: Path | None = None) -> Identity:
    """The reader: the OS user, or ``OMNI_USER`` under a service account of ``table``.

    Raises
    ------
    AccessDeniedError
        ``OMNI_USER`` names someone other than the OS user, and the OS user is not one of
        the table's ``service_accounts``.
    """
    account = os_user()
    claimed = settings().user
    if claimed is None or claimed == account:
        return Identity(user=account, os_user=account, groups=os_groups())
    if table is None:  # no access decision depends on it: record the OS account
        return Identity(user=account, os_user=account, groups=os_groups())
    if account not in table.service_accounts:
        where = f" of {root / MANIFEST_NAME}" if root is not None else ""
        raise AccessDeniedError(
            f"OMNI_USER={claimed!r} names someone other than the OS user {account!r}, and "
            f"{account!r} is not in [access] service_accounts{where}; an environment "
            "variable cannot change who you are. Unset OMNI_USER, or ask the root's owner to "
            "list the service account your deployment runs as",
            user=account,
        )
    return Identity(user=claimed, os_user=account, groups=os_groups(claimed), source="deployment")


def _names(value: object, where: str, what: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigurationError(
            f'{where} is {value!r}; expected a list of {what} names, e.g. ["researcher"]'
        )
    return tuple(value)


def access_table(manifest: Manifest, *, root: Path | str = "") -> AccessTable | None:
    """The root's checked ``[access]`` table, or None when it has none (everyone reads).

    Raises
    ------
    ConfigurationError
        An unknown key, role, kind or family, or a value of the wrong type; the message
        names the manifest entry.
    """
    path = Path(root) / MANIFEST_NAME if root else Path(MANIFEST_NAME)
    if "access" in manifest.meta:  # a typo must not switch the roles off: fail closed
        raise ConfigurationError(
            f"{path}: access is {manifest.meta['access']!r}; expected an [access] table with "
            "[access.roles], [access.users] and [access.groups]"
        )
    raw: Any = manifest.tables.get("access")
    if raw is None:
        return None
    unknown = sorted(set(raw) - set(_KEYS))
    if unknown:
        raise ConfigurationError(
            f"{path}: [access] has unknown key(s) {', '.join(map(repr, unknown))}; expected "
            f"only {', '.join(_KEYS)}"
        )
    for key in ("roles", "users", "groups"):
        if not isinstance(raw.get(key, {}), dict):
            raise ConfigurationError(
                f"{path}: [access] {key} is a {type(raw[key]).__name__}; expected a table "
                f"[access.{key}]"
            )
    roles: dict[str, frozenset[str]] = {}
    for role, entries in raw.get("roles", {}).items():
        where = f"{path}: [access.roles] {role}"
        kinds: set[str] = set()
        for name in _names(entries, where, "kind or family"):
            if name in FAMILIES:
                kinds |= set(FAMILIES[name])
            elif name in KINDS or name in DERIVED_KINDS:
                kinds.add(name)
            else:
                raise ConfigurationError(
                    f"{where} names {name!r}, which is neither a kind nor a family; expected "
                    f"one of the families {', '.join(FAMILIES)} or the kinds {', '.join(KINDS)}"
                )
        roles[role] = frozenset(kinds)
    holders: dict[str, dict[str, tuple[str, ...]]] = {"users": {}, "groups": {}}
    for key, table in holders.items():
        for name, entries in raw.get(key, {}).items():
            where = f"{path}: [access.{key}] {name}"
            given = _names(entries, where, "role")
            missing = [r for r in given if r not in roles]
            if missing:
                raise ConfigurationError(
                    f"{where} gives the role {missing[0]!r}, which [access.roles] does not "
                    f"define; expected one of: {', '.join(roles) or 'none defined'}"
                )
            table[name] = given
    accounts = _names(
        raw.get("service_accounts", []), f"{path}: [access] service_accounts", "OS account"
    )
    return AccessTable(
        roles=roles, users=holders["users"], groups=holders["groups"], service_accounts=accounts
    )


def check_read(manifest: Manifest, kind: str, *, root: Path | str) -> Identity:
    """Raise AccessDeniedError unless the reader holds a role of ``root`` that reads ``kind``.

    Call it before any byte of a data file of ``kind`` is read.

    Returns
    -------
    Identity
        Who reads (for the audit record).

    Raises
    ------
    AccessDeniedError
        Naming the user, the kind, the root and the roles that would allow the read.
    ConfigurationError
        The ``[access]`` table is malformed.
    """
    table = access_table(manifest, root=root)
    identity = current_identity(table, root=Path(root))
    if table is None:
        return identity
    held = table.roles_of(identity)
    if any(kind in table.roles[role] for role in held):
        return identity
    allowing = table.roles_for(kind)
    groups = f" (groups: {', '.join(identity.groups)})" if identity.groups else ""
    raise AccessDeniedError(
        f"user {identity.user!r}{groups} may not read {kind!r} data of {root}: their roles "
        f"({', '.join(held) or 'none'}) do not cover it. "
        + (
            f"Roles that may: {', '.join(allowing)}; ask the root's owner for one (in "
            f"[access.users] or [access.groups] of {MANIFEST_NAME})"
            if allowing
            else f"No role of {MANIFEST_NAME} may read {kind!r}"
        ),
        user=identity.user,
    )
