"""The rich console every command prints to, and how user errors end a command."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

T = TypeVar("T")

# soft_wrap: a long line (an id, a URL) stays one line for the terminal to wrap, so it can be copied
console = Console(highlight=False, soft_wrap=True)
errors = Console(stderr=True, highlight=False, soft_wrap=True)


class CliError(Exception):
    """A problem the user can fix: printed as one clear message, never as a traceback."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


def fail(error: CliError) -> NoReturn:
    errors.print(f"[bold red]error:[/] {escape(error.message)}")
    if error.hint:
        errors.print(f"[dim]hint:[/] {escape(error.hint)}")
    raise typer.Exit(1)


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a command's coroutine; a CliError becomes a message and exit code 1, Ctrl-C exit 130."""
    try:
        return asyncio.run(coro)
    except CliError as exc:
        fail(exc)
    except KeyboardInterrupt:
        errors.print("[yellow]interrupted[/]")
        raise typer.Exit(130) from None
