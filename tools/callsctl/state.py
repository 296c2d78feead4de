"""What every callsctl command gets: the global options, the store they lead to, and how to print.

Shared by the command modules (cli.py, webhooks_cli.py); it imports none of them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import click

from callsctl import output
from callsctl.store import AdminStore
from callsctl.target import Target, TargetOptions, TargetUsageError, choose_target, open_store

APP_ARGUMENT = click.argument("app_id", metavar="APP")


@dataclass
class State:
    """The global options, and the store they lead to, opened on first use."""

    target_options: TargetOptions
    json_output: bool
    target: Target | None = None
    _store: AdminStore | None = field(default=None, repr=False)

    def store(self) -> AdminStore:
        if self._store is None:
            try:
                self.target = choose_target(self.target_options, os.environ)
            except TargetUsageError as error:
                raise click.UsageError(str(error)) from None
            self._store = open_store(self.target)
        return self._store

    def emit(self, data: Any, text: str) -> None:
        click.echo(output.as_json(data) if self.json_output else text)


pass_state = click.make_pass_decorator(State)
