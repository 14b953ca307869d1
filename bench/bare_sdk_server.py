"""The baseline: a bare SDK 2.x low-level server with one `add` tool on the SDK's own stdio transport.

`python bench/bare_sdk_server.py REPLY.json` also has a `reply` tool that answers every call with the result in
that file (a tools/call result as it came over the wire): the floor a server sending that reply cannot go below.
"""

import json
import sys

import anyio
import mcp.types as types
from mcp.server import Server
from mcp.server.stdio import stdio_server

TOOLS = [
    types.Tool(
        name="add",
        description="Add two integers.",
        input_schema={
            "type": "object",
            "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
            "required": ["a", "b"],
        },
    )
]
REPLY = types.CallToolResult.model_validate(json.loads(open(sys.argv[1]).read())) if len(sys.argv) > 1 else None
if REPLY is not None:
    TOOLS.append(types.Tool(name="reply", description="The same reply every time.", input_schema={"type": "object"}))


async def list_tools(ctx, params):
    return types.ListToolsResult(tools=TOOLS)


async def call_tool(ctx, params):
    if params.name == "reply" and REPLY is not None:
        return REPLY
    args = params.arguments or {}
    return types.CallToolResult(content=[types.TextContent(type="text", text=str(args["a"] + args["b"]))])


server = Server("bare-sdk", on_list_tools=list_tools, on_call_tool=call_tool)


async def main():
    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())


if __name__ == "__main__":
    anyio.run(main)
