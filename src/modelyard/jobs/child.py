"""`python -m modelyard.jobs.child RUN_ID`: the process a run's program executes in.

It imports the project's program (a module, or a folder holding one: the folder, or its
`src/`, goes on sys.path), calls the command's function with a `modelyard.sdk.Context`,
and exits 0 on success, 75 when the program raised `modelyard.sdk.Transient` (retry), 1
on any other error, whose traceback ends the run's log.

It runs in a session of its own (so a timeout can kill everything the program started),
which also means it would outlive a killed worker; it therefore watches its parent and
kills its own process group when the parent is gone. Otherwise the run would go on after
its slot was reclaimed, and the cap would be exceeded for real.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path
from types import ModuleType

from modelyard import sdk

PARENT_CHECK_SECONDS = 0.5


def die_with_parent(parent: int) -> None:
    """Kill this run's process group as soon as the process that started it is gone."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_SECONDS)
        # Its own group when it leads one (as jobs.process starts it), else only itself.
        group = os.getpgrp()
        if group == os.getpid():
            os.killpg(group, signal.SIGKILL)
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name="die-with-parent", daemon=True).start()


def main(run_id: int) -> int:
    die_with_parent(os.getppid())
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "modelyard.settings")
    import django

    django.setup()
    # Models only now: this module also starts as `python -m`, before Django is set up.
    from modelyard.jobs.models import Run

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stdout
    )
    run = Run.objects.select_related("command__project__team").get(pk=run_id)
    command, project = run.command, run.command.project
    output_dir = Path.cwd() / "outputs"
    output_dir.mkdir(exist_ok=True)
    context = sdk.context_for(run, output_dir)
    print(
        f"modelyard: run {run.pk}, {project.ref}:{command.name}, attempt {run.attempt}", flush=True
    )
    if command.run:
        return run_command_line(command.run, context, project.program)
    try:
        function = getattr(load_program(project.program), command.entry)
        function(context)
    except sdk.Transient as error:
        print(f"modelyard: transient failure, to be retried: {error}", flush=True)
        return sdk.TRANSIENT_EXIT
    except Exception:  # the program's own error: its traceback is the run's last words
        traceback.print_exc(file=sys.stdout)
        return 1
    return 0


def run_command_line(argv: list[str], context: sdk.Context, program: str) -> int:
    """A command given as a CLI (`run:`): run it in this process group, with the run's
    context in its environment (modelyard.sdk.current() reads it back), from the
    program's folder when `program:` is one. Its exit code is the run's: 75 asks for a
    retry, as sdk.Transient does."""
    folder = Path(program).expanduser()
    cwd = folder if folder.is_dir() else Path.cwd()
    # The worker's own environment first on PATH: `python` and its console scripts are the
    # ones that have modelyard, even when the worker was started without activating it.
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    env = {**os.environ, **context.environment(), "PATH": path}
    sys.stdout.flush()
    try:
        return subprocess.run(argv, cwd=cwd, env=env).returncode
    except OSError as error:  # not found, not executable
        print(f"modelyard: could not start `run:` {argv[0]!r}: {error}", flush=True)
        return 1


def load_program(program: str) -> ModuleType:
    path = Path(program).expanduser()
    if path.is_dir():
        root = path / "src" if (path / "src").is_dir() else path
        sys.path.insert(0, str(root.resolve()))
        packages = [p.name for p in root.iterdir() if (p / "__init__.py").exists()]
        modules = [p.stem for p in root.glob("*.py") if p.stem != "setup"]
        names = packages or modules
        if len(names) != 1:
            raise ImportError(
                f"{program} holds {len(names)} modules ({', '.join(names)}); name the one to "
                "run in `program:` (and keep the folder on PYTHONPATH)."
            )
        return importlib.import_module(names[0])
    return importlib.import_module(program)


def run_forked(run_id: int, directory: str, log_path: str, environment: dict[str, str]) -> None:
    """A warm start's entry (jobs/starts.py): what `python -m modelyard.jobs.child` and its
    Popen arguments do, in a process forked from the forkserver."""
    os.setsid()  # a session and process group of its own, as start_new_session gives
    _let_the_forkserver_go()
    os.environ.clear()  # the worker's environment now, not the forkserver's at its start
    os.environ.update(environment)
    os.chdir(directory)
    log = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    sys.exit(main(run_id))


def _let_the_forkserver_go() -> None:
    """CPython hands every forked child the forkserver's "alive" pipe, so the forkserver
    lives as long as any child does; then a killed worker's forkserver would stay, and
    with it this process's parent. Closing it ties the forkserver's life to the worker's
    alone: when the worker dies it exits, and die_with_parent sees this process orphaned."""
    from multiprocessing import forkserver

    server = forkserver._forkserver
    fd = getattr(server, "_forkserver_alive_fd", None)
    if fd is not None:
        with contextlib.suppress(OSError):
            os.close(fd)
        setattr(server, "_forkserver_alive_fd", None)  # noqa: B010 - private, untyped


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1])))
