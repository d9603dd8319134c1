"""`modelyard predict`: rows from a CSV, Parquet or JSON-lines file (or stdin) to a prediction
server, and its answers back as a table or JSON.

A client of the prediction server (not of the REST API): it sends the rows by column name to
`POST /v1/models/NAME:predict`, in batches so that a large file stays under the server's body
limit, and needs no token (the server has no sign-in of its own; who may reach it is the
network's decision). The server's URL is --url, else MODELYARD_SERVE_URL, else the one
`modelyard up` saved, else http://127.0.0.1:8080.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Any

import click
import httpx
import orjson

from modelyard import config
from modelyard.cli.catalog import _print_json, json_option
from modelyard.client import ClientError

FORMATS = ("csv", "parquet", "jsonl")
SUFFIXES = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
}


@click.command()
@click.argument("model", metavar="NAME|TEAM/NAME[:VERSION]")
@click.option(
    "--input",
    "source",
    required=True,
    metavar="FILE|-",
    help="Rows with the model's input columns: .csv, .parquet or .jsonl (one object a line); "
    "- reads standard input.",
)
@click.option(
    "--format",
    "file_format",
    type=click.Choice(FORMATS),
    help="The input's format (default: from the file's suffix; on stdin, guessed).",
)
@click.option("--url", help="The prediction server. [default: MODELYARD_SERVE_URL, else up's]")
@click.option(
    "--batch-rows",
    type=click.IntRange(1, 100_000),
    default=1000,
    show_default=True,
    help="Rows sent per request.",
)
@json_option
def predict(
    model: str,
    source: str,
    file_format: str | None,
    url: str | None,
    batch_rows: int,
    as_json: bool,
) -> None:
    """Send rows to a prediction server and print MODEL's predictions, one per row."""
    name, version = _served_name(model)
    rows = read_rows(source, file_format)
    server = (url or config.serving_url()).rstrip("/")
    answer = send(server, name, rows, batch_rows)
    if version is not None and str(answer["version"]) != version:
        raise ClientError(
            f"{server} serves version {answer['version']} of {name}, not {version}; "
            "predict with the model's name to use the version it serves."
        )
    _print_json(answer) if as_json else _print_table(answer)


def _served_name(model: str) -> tuple[str, str | None]:
    if "@" in model:
        raise click.BadParameter(
            "a server serves one alias: name the model (NAME or TEAM/NAME[:VERSION]).",
            param_hint="MODEL",
        )
    name, _, version = model.partition(":")
    return name, version or None


# --- reading rows ---------------------------------------------------------------------------


def read_rows(source: str, file_format: str | None) -> list[dict[str, Any]]:
    """The rows as column -> value, read whole (a prediction request is not a batch job:
    `modelyard score` is, for files larger than memory)."""
    data, file_format = _read_source(source, file_format)
    try:
        rows = _parse(data, file_format)
    except (ValueError, OSError) as error:  # pyarrow's and orjson's errors are ValueErrors
        where = "standard input" if source == "-" else source
        raise ClientError(f"Could not read {where} as {file_format}: {error}") from None
    if not rows:
        raise ClientError(f"{source} holds no rows to predict.")
    return rows


def _read_source(source: str, file_format: str | None) -> tuple[bytes, str]:
    if source == "-":
        data = sys.stdin.buffer.read()
        return data, file_format or _sniff(data)
    path = Path(source)
    if not path.is_file():
        raise ClientError(f"{source} is not a file; give a .csv, .parquet or .jsonl file, or -.")
    file_format = file_format or SUFFIXES.get(path.suffix.lower())
    if file_format is None:
        raise ClientError(f"Cannot tell the format of {source}: pass --format csv|parquet|jsonl.")
    return path.read_bytes(), file_format


def _sniff(data: bytes) -> str:
    if data.startswith(b"PAR1"):
        return "parquet"
    return "jsonl" if data.lstrip().startswith(b"{") else "csv"


def _parse(data: bytes, file_format: str) -> list[dict[str, Any]]:
    if file_format == "jsonl":
        lines = [orjson.loads(line) for line in data.splitlines() if line.strip()]
        if not all(isinstance(line, dict) for line in lines):
            raise ValueError('each line must be one object, {"column": value, …}')
        return lines
    if file_format == "parquet":
        import pyarrow.parquet as pq

        table = pq.read_table(io.BytesIO(data))
    else:
        import pyarrow.csv as pcsv

        table = pcsv.read_csv(io.BytesIO(data))
    rows: list[dict[str, Any]] = table.to_pylist()
    return rows


# --- asking the server ----------------------------------------------------------------------


def send(server: str, name: str, rows: list[dict[str, Any]], batch_rows: int) -> dict[str, Any]:
    """Every batch's answer merged into one: model, version, predictions (and probability)."""
    merged: dict[str, Any] = {}
    with httpx.Client(base_url=server, timeout=httpx.Timeout(300.0, connect=5.0)) as client:
        for start in range(0, len(rows), batch_rows):
            answer = _ask(client, server, name, rows[start : start + batch_rows], start)
            if not merged:
                merged = {key: [] if isinstance(v, list) else v for key, v in answer.items()}
            for key, value in answer.items():
                if isinstance(value, list):
                    merged[key].extend(value)
    return merged


def _ask(
    client: httpx.Client, server: str, name: str, rows: list[dict[str, Any]], start: int
) -> dict[str, Any]:
    body = orjson.dumps({"instances": rows})
    try:
        response = client.post(f"/v1/models/{name}:predict", content=body)
    except httpx.HTTPError as error:
        raise ClientError(
            f"Could not reach the prediction server at {server} ({error}); start one "
            "(`modelyard serve --all`, or `modelyard up`), or pass --url / set "
            "MODELYARD_SERVE_URL."
        ) from None
    try:
        answer = response.json()
    except ValueError:
        answer = {}
    if response.status_code != 200 or not isinstance(answer, dict):
        raise ClientError(_refusal(server, response.status_code, answer, start, len(rows)))
    return answer


def _refusal(server: str, status: int, answer: Any, start: int, count: int) -> str:
    error = answer.get("error") if isinstance(answer, dict) else None
    if error is None:
        return f"{server} answered {status} without an explanation; is it a modelyard server?"
    field = answer.get("field")
    where = f" in rows {start + 1}-{start + count}" if status == 422 else ""
    return f"{error}{f' (field: {field})' if field else ''}{where}"


# --- printing -------------------------------------------------------------------------------


def _print_table(answer: dict[str, Any]) -> None:
    predictions = answer.get("predictions", [])
    probability = answer.get("probability")
    click.echo(f"{answer.get('model')} version {answer.get('version')}")
    click.echo(f"{'row':>6}  prediction" + ("  probability" if probability else ""))
    for index, value in enumerate(predictions):
        line = f"{index + 1:>6}  {_cell(value):<10}"
        if probability:
            line += "  " + " ".join(f"{p:.4f}" for p in probability[index])
        click.echo(line.rstrip())


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def register(group: click.Group) -> None:
    group.add_command(predict)
