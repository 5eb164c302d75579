"""``gridsvc user …``: accounts of the HTTP API (mounted on the main CLI as ``user``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from .config import load_settings
from .errors import GridsvcError

__all__ = ["app"]

app = typer.Typer(help="Accounts of the HTTP API: admin, planner, worker.", no_args_is_help=True)
console = Console(stderr=True)


@app.callback()
def _group() -> None:
    """Manage accounts of the HTTP API."""


@app.command("add")
def add(
    username: Annotated[str, typer.Argument(help="login name")],
    role: Annotated[str, typer.Option(help="admin | planner | worker")] = "planner",
    scope: Annotated[
        list[str] | None,
        typer.Option(
            help="planner: district/street/community code prefixes; worker: grid "
            "codes (repeat the option)"
        ),
    ] = None,
    worker_id: Annotated[
        str | None, typer.Option(help="worker: his id in the workers table")
    ] = None,
    password: Annotated[
        str,
        typer.Option(
            prompt=True,
            hide_input=True,
            confirmation_prompt=True,
            envvar="GRIDSVC_NEW_PASSWORD",
            help="at least 8 characters",
        ),
    ] = "",
    db: Annotated[str | None, typer.Option("--db", help="database URL")] = None,
    config: Annotated[Path | None, typer.Option("--config", exists=True)] = None,
) -> None:
    """Create an account (the password is hashed with argon2)."""
    from .store import audit, open_store, session_scope, users

    try:
        settings = load_settings(config, database_url=db)
        with session_scope(open_store(settings)) as session:
            user = users.add_user(
                session,
                username=username,
                password=password,
                role=role,
                scope=tuple(scope or ()),
                worker_id=worker_id,
            )
            audit.record(
                session,
                user=None,
                action="user.add",
                target=f"user/{username}",
                after={"role": user.role, "scope": list(user.scope)},
            )
    except (GridsvcError, ValueError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
    console.print(
        f"added {user.role} {user.username}"
        + (f" (scope {', '.join(user.scope)})" if user.scope else "")
    )
