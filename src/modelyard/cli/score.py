"""`modelyard score`: a registered model over Parquet/CSV files, with a progress bar."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager

import click
import rich.progress
from rich.console import Console

from modelyard.cli.catalog import _print_json, json_option
from modelyard.cli.operate import django_setup
from modelyard.client import Client
from modelyard.scoring import client_side, engine


@contextmanager
def _rows_bar(total: int | None, parts: int) -> Iterator[engine.Progress]:
    console = Console(stderr=True)
    columns = (
        rich.progress.TextColumn("Scoring"),
        rich.progress.BarColumn(),
        rich.progress.MofNCompleteColumn(),
        rich.progress.TextColumn("rows, {task.fields[parts]} parts"),
        rich.progress.TaskProgressColumn(),
        rich.progress.TimeRemainingColumn(),
    )
    with rich.progress.Progress(*columns, console=console, disable=not console.is_terminal) as bar:
        task = bar.add_task("score", total=total, parts=f"0/{parts}")
        yield lambda rows, done: bar.update(task, completed=rows, parts=f"{done}/{parts}")


@click.command()
@click.argument("model", metavar="TEAM/NAME@ALIAS|TEAM/NAME:VERSION")
@click.option(
    "--input",
    "input_",
    required=True,
    metavar="URI|dataset:TEAM/NAME[:V]",
    help="A Parquet/CSV file or folder (file://, s3://), a Parquet Hive table "
    "(hive://host:port/db/table), or a registered data set.",
)
@click.option(
    "--partition",
    "partitions",
    multiple=True,
    metavar="KEY=VALUE",
    help="Only this partition of a hive:// table (repeat for several keys).",
)
@click.option(
    "--output",
    required=True,
    metavar="URI",
    help="An empty folder (file://…, s3://…) for part-NNNNN.parquet files.",
)
@click.option(
    "--register",
    "register_as",
    metavar="TEAM/NAME",
    help="Register the output as a version of this data set, with lineage.",
)
@click.option(
    "--engine",
    "engine_name",
    type=click.Choice(["local", "spark"]),
    default="local",
    show_default=True,
    help="local: processes on this machine; spark: one Spark task per part on --spark-master.",
)
@click.option(
    "--spark-master",
    default="local[*]",
    show_default=True,
    help="The Spark master URL (spark engine), e.g. yarn or spark://host:7077.",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 256),
    default=None,
    help="Processes (default: the CPUs available).",
)
@click.option(
    "--batch-size",
    type=click.IntRange(1),
    default=65_536,
    show_default=True,
    help="Rows read and predicted at a time: bounds the memory.",
)
@click.option(
    "--rows-per-part",
    type=click.IntRange(1),
    default=250_000,
    show_default=True,
    help="Rows per output file: the unit of progress and of resumption.",
)
@click.option("--keep", default="", metavar="COL,…", help="Input columns to copy to the output.")
@click.option(
    "--time-column",
    default="timestamp",
    show_default=True,
    help="For a model whose signature names features: the entity files' time column. Such a "
    "model scores entity files (its views' key columns and this column); each row gets the "
    "features as they were at its time, and the output keeps the entity columns.",
)
@json_option
def score(
    model: str,
    input_: str,
    partitions: tuple[str, ...],
    output: str,
    register_as: str | None,
    engine_name: str,
    spark_master: str,
    workers: int | None,
    batch_size: int,
    rows_per_part: int,
    keep: str,
    time_column: str,
    as_json: bool,
) -> None:
    """Score MODEL over --input into --output; run it again to resume after a failure."""
    request = client_side.Request(
        model,
        input_,
        output,
        register_as,
        workers or client_side.default_workers(),
        batch_size,
        rows_per_part,
        tuple(c.strip() for c in keep.split(",") if c.strip()),
        engine_name,
        spark_master,
        partitions,
        time_column,
    )
    # Scoring, Spark and model-loading errors are ModelyardErrors: the CLI's one boundary
    # shows them as one line.
    result = _score(request)
    if as_json:
        _print_json(result)
        return
    click.echo(
        f"Scored {result['rows']:,} rows with {result['model']} in {result['seconds']:.1f} s "
        f"({result['parts_scored']} parts, {result['parts_skipped']} already done) "
        f"into {output}" + (f"; registered {result['registered']}" if result["registered"] else "")
    )


def _score(request: client_side.Request) -> dict[str, object]:
    with Client() as client:
        job, model, dataset_ref = client_side.prepare(client, request, django_setup)
        total = client_side.total_rows(job.parts)
        with _rows_bar(total, len(job.parts)) as progress:
            if request.engine == "spark":
                from modelyard.scoring import spark

                outcome = spark.run(job, request.spark_master, progress)
            else:
                outcome = engine.run(job, request.workers, progress)
        scored = client_side.Scored(job.parts, outcome.rows, outcome.parts_skipped > 0)
        registered = client_side.register_output(client, request, model, dataset_ref, scored)
    # Complete: nothing left to resume from (a failed run keeps its folder for the retry).
    shutil.rmtree(job.workdir, ignore_errors=True)
    return {
        "model": model["ref"],
        "rows": outcome.rows,
        "parts_scored": outcome.parts_scored,
        "parts_skipped": outcome.parts_skipped,
        "seconds": round(outcome.seconds, 3),
        "output": request.output_uri,
        "registered": registered["ref"] if registered else None,
    }


def register(group: click.Group) -> None:
    group.add_command(score)
