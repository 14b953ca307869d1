"""read_media_file's result: a file as an image, audio or embedded-resource block, shaped as the reference's."""

from __future__ import annotations

import copy
from pathlib import PurePath
from typing import Any, Final

import mcp.types as types
from deskmcp.servers.filesystem.filetypes import mime_type
from deskmcp.servers.filesystem.uris import path_to_uri
from deskmcp.shared.tools import StructuredResult
from pydantic import PrivateAttr

MEDIA_OUTPUT_SCHEMA: Final = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "properties": {
        "content": {
            "type": "array",
            "items": {
                "anyOf": [
                    {
                        "type": "object",
                        "properties": {
                            "type": {"type": "string", "enum": ["image", "audio"]},
                            "data": {"type": "string"},
                            "mimeType": {"type": "string"},
                        },
                        "required": ["type", "data", "mimeType"],
                        "additionalProperties": False,
                    },
                    {
                        "type": "object",
                        "properties": {
                            "type": {"type": "string", "const": "resource"},
                            "resource": {
                                "type": "object",
                                "properties": {
                                    "uri": {"type": "string"},
                                    "mimeType": {"type": "string"},
                                    "blob": {"type": "string"},
                                },
                                "required": ["uri", "blob"],
                                "additionalProperties": False,
                            },
                        },
                        "required": ["type", "resource"],
                        "additionalProperties": False,
                    },
                ]
            },
        }
    },
    "required": ["content"],
    "additionalProperties": False,
}


class MediaResult(StructuredResult):
    """read_media_file's result as the reference gives it: the block as `content`, and again as
    `structuredContent: {content: [block]}` under the reference's output schema."""

    content: list[dict[str, Any]]
    _blocks: list[types.ContentBlock] = PrivateAttr(default_factory=list)

    @classmethod
    def of(cls, block: types.ContentBlock) -> MediaResult:
        result = cls(content=[block.model_dump(mode="json", by_alias=True, exclude_none=True)])
        result._blocks = [block]
        return result

    def content_blocks(self) -> list[types.ContentBlock]:
        return list(self._blocks)

    @classmethod
    def output_schema(cls) -> dict[str, Any]:
        return copy.deepcopy(MEDIA_OUTPUT_SCHEMA)


def media_block(path: PurePath, base64_data: bytes) -> types.ContentBlock:
    """An image or audio block, or for any other type an embedded resource (the spec has no 'blob' block) whose URI
    is the file's resource URI."""
    data = base64_data.decode("ascii")
    mime = mime_type(path.name)  # the resources' own fixed table, the same on every OS
    if mime.startswith("image/"):
        return types.ImageContent(type="image", data=data, mime_type=mime)
    if mime.startswith("audio/"):
        return types.AudioContent(type="audio", data=data, mime_type=mime)
    resource = types.BlobResourceContents(uri=path_to_uri(path), mime_type=mime, blob=data)
    return types.EmbeddedResource(type="resource", resource=resource)
