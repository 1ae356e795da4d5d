"""The main job: build the demo world, print what the checks find, serve it."""

from __future__ import annotations

from typing import Annotated

import typer

from raretrace.cli.common import (
    JsonFlag,
    _ctx,
    emit_json,
    err_console,
    out_console,
)


def demo(
    ctx: typer.Context,
    db: Annotated[
        str | None,
        typer.Option("--db", help="Where to build the demo registry (default: a fresh raretrace-demo.db)"),
    ] = None,
    no_serve: Annotated[
        bool, typer.Option("--no-serve", help="Build and print only; do not start the web server")
    ] = False,
    scale: Annotated[
        float, typer.Option(min=0.01, max=10.0, help="Multiply the number of lots (1.0: about 8,700)")
    ] = 1.0,
    seed: Annotated[int, typer.Option(help="Seed of every choice the world makes")] = 0,
    host: Annotated[str, typer.Option(help="Address to serve on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to serve on")] = 8000,
    as_json: JsonFlag = False,
) -> None:
    """Build the demo world — real deposits and plants, published capacities and stage shares,
    thousands of signed lots from mines to magnets, EV motors and defense platforms, and four planted
    cases (a false declared origin, Chinese magnet technology, Chinese-separated oxide in a defense
    magnet, a certificate tampered with in transit) — print what the checks find, then serve it.

    Example: raretrace demo --db demo.db --no-serve
    """
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from raretrace.cli.serve import require_free_port
    from raretrace.demo import DEFAULT_DB, expected_lots, run_demo
    from raretrace.render.jsonable import jsonable

    target = db or _ctx(ctx).db or DEFAULT_DB
    if not no_serve:
        require_free_port(host, port)  # said before a minute of building, not after
    with Progress(
        TextColumn("building the demo world: {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("lots"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
        disable=as_json or not err_console.is_terminal,
    ) as bar:
        estimate = expected_lots(scale)  # measured at scale 1; the bar grows if the world records more
        task = bar.add_task("plants", total=estimate)

        def progress(stage: str, lots: int) -> None:
            bar.update(task, description=stage, completed=lots, total=max(estimate, lots))

        summary = run_demo(
            target,
            console=None if as_json else out_console,
            scale=scale,
            seed=seed,
            progress=progress,
        )
    if as_json:
        emit_json(jsonable(summary))
    if not no_serve:
        from raretrace.cli.serve import run_server

        # the demo is a development registry: a one-day secretariat token is printed to log in with
        run_server(target, host=host, port=port, dev=True)


def register(app: typer.Typer) -> None:
    app.command()(demo)
