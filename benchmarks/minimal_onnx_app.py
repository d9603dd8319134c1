"""The limit for `serving.py`: the least an ASGI server can do to answer a V2 infer request.

One Starlette route, `orjson`, NumPy and one onnxruntime session (one intra-op thread):
parse the body, reshape the tensor, run, answer in the V2 (Open Inference Protocol)
shape. Nothing else: no validation beyond what the parse does, no logging, no metrics.

    .venv/bin/python benchmarks/minimal_onnx_app.py --model forest.onnx --port 8123

It runs `uvicorn.Server` with httptools, uvloop and no access log (what `uvicorn --http
httptools --loop uvloop --no-access-log` runs) on a listening socket made here with
TCP_NODELAY, which accepted connections inherit: `uvicorn --workers N` leaves it off
and each keep-alive request then waits ~40 ms for a delayed ACK. With `--workers N > 1`
each worker is a forked process with its own SO_REUSEPORT socket on the port, so the
kernel spreads connections over the workers instead of letting one take the burst.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
from typing import Any

import numpy as np
import onnxruntime
import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

MODEL_PATH_VARIABLE = "MINIMAL_ONNX_MODEL"


def load_session(path: str) -> onnxruntime.InferenceSession:
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def build_app(session: onnxruntime.InferenceSession, model_name: str) -> Starlette:
    input_name = session.get_inputs()[0].name
    output_names = [output.name for output in session.get_outputs()]

    async def infer(request: Request) -> Response:
        tensor = orjson.loads(await request.body())["inputs"][0]
        features = np.asarray(tensor["data"], dtype=np.float32).reshape(tensor["shape"])
        results = session.run(None, {input_name: features})
        outputs = [
            _v2_tensor(name, value) for name, value in zip(output_names, results, strict=True)
        ]
        body = {"model_name": model_name, "outputs": outputs}
        return Response(orjson.dumps(body), media_type="application/json")

    async def ready(request: Request) -> Response:
        return Response(b"", status_code=200)

    return Starlette(
        routes=[
            Route(f"/v2/models/{model_name}/infer", infer, methods=["POST"]),
            Route("/v2/health/ready", ready, methods=["GET"]),
        ]
    )


def _v2_tensor(name: str, value: Any) -> dict[str, Any]:
    datatype = "INT64" if value.dtype == np.int64 else "FP32"
    return {
        "name": name,
        "shape": list(value.shape),
        "datatype": datatype,
        "data": value.ravel().tolist(),
    }


def listening_socket(host: str, port: int, reuse_port: bool) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def serve(sock: socket.socket, model_path: str, model_name: str) -> None:
    # The session is made in the worker, after any fork, so no worker shares its state.
    app = build_app(load_session(model_path), model_name)
    config = uvicorn.Config(
        app, http="httptools", loop="uvloop", access_log=False, log_level="warning"
    )
    uvicorn.Server(config).run(sockets=[sock])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=os.environ.get(MODEL_PATH_VARIABLE, ""))
    parser.add_argument("--name", default="forest", help="model name in the route")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8123)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    if not args.model:
        parser.error(f"give --model or set {MODEL_PATH_VARIABLE} to an .onnx file")
    reuse_port = args.workers > 1
    sockets = [listening_socket(args.host, args.port, reuse_port) for _ in range(args.workers)]
    children = [_fork_worker(sock, args.model, args.name) for sock in sockets[1:]]
    try:
        serve(sockets[0], args.model, args.name)
    finally:
        for pid in children:
            os.kill(pid, signal.SIGTERM)
        for pid in children:
            os.waitpid(pid, 0)


def _fork_worker(sock: socket.socket, model_path: str, model_name: str) -> int:
    pid = os.fork()
    if pid == 0:
        serve(sock, model_path, model_name)
        os._exit(0)
    return pid


if __name__ == "__main__":
    main()
