"""The floor for HTTP: uvicorn + Starlette answering a JSON-RPC POST with a fixed result, no MCP at all.

Prints `serving at URL` on stderr, as deskmcp does, as it starts (the port is picked free just before).
"""

import socket
import sys

import uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route


async def answer(request):
    body = await request.json()
    return JSONResponse({"jsonrpc": "2.0", "id": body["id"], "result": {"content": [{"type": "text", "text": "5"}]}})


if __name__ == "__main__":
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    print(f"serving at http://127.0.0.1:{port}/mcp", file=sys.stderr, flush=True)
    app = Starlette(routes=[Route("/mcp", answer, methods=["POST"])])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="error")
