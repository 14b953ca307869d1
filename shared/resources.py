"""Resources: a table of static resources and URI templates, with a paged listing, reads and completion.

A server declares each resource as a plain function, `@resource(uri)` for a fixed URI and
`@template("scheme://things/{name}")` for a family (the function takes the template's variables as
keyword arguments, and the whole URI if it has a `uri` parameter). A `lister` pages through resources too
many to declare (files, entities): it takes the cursor it handed out (None for the first page) and returns
`(listed, next_cursor)`. Functions return `str` (sent as text), `bytes` (sent base64) or `Contents`, and
raise `errors.NotFound` or `errors.InvalidArgument`; sync ones run in a worker thread.

`ResourceTable` answers resources/list, resources/templates/list, resources/read and the templates' half of
completion/complete; given a `SubscriptionHub` it also serves resources/subscribe and /unsubscribe
(handshake era) and subscriptions/listen (2026-07-28), refusing URIs that no resource or template serves.
"""

from __future__ import annotations

import base64
import functools
import inspect
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import unquote

import mcp.types as types
from deskmcp.shared.completion import Completer
from deskmcp.shared.errors import InvalidArgument, NotFound
from deskmcp.shared.offload import call
from deskmcp.shared.protocol import is_modern
from deskmcp.shared.subscriptions import SubscriptionHub
from mcp.server import ServerRequestContext

Context = ServerRequestContext[Any, Any]

TEXT: Final = "text/plain"
OCTET_STREAM: Final = "application/octet-stream"
_EXPRESSION: Final = re.compile(r"\{(\+?)([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True, slots=True)
class Contents:
    """A read whose MIME type depends on the content: `text`, or else `data` (sent base64)."""

    text: str | None = None
    data: bytes | None = None
    mime_type: str | None = None


@dataclass(frozen=True, slots=True)
class Listed:
    """One resource on a `resources/list` page."""

    uri: str
    name: str
    mime_type: str | None = None
    size: int | None = None
    title: str | None = None
    description: str | None = None

    def definition(self) -> types.Resource:
        return types.Resource(
            uri=self.uri,
            name=self.name,
            title=self.title,
            description=self.description,
            mime_type=self.mime_type,
            size=self.size,
        )


Readable = str | bytes | Contents
Page = tuple[Sequence[Listed], str | None]
Lister = Callable[[str | None], Page]
Matcher = Callable[[str], Mapping[str, str] | None]


@dataclass(frozen=True, slots=True)
class ResourceSpec:
    """One resource at a fixed URI."""

    listed: Listed
    read: Callable[[], Any]
    in_thread: bool = True


@dataclass(frozen=True, slots=True)
class TemplateSpec:
    """A family of resources: a URI template, how a URI matches it, and how to read and complete it."""

    uri_template: str
    name: str
    read: Callable[..., Any]
    match: Matcher
    title: str | None = None
    description: str | None = None
    mime_type: str | None = None
    completers: Mapping[str, Completer] = field(default_factory=dict)
    takes_uri: bool = False
    in_thread: bool = True

    def definition(self) -> types.ResourceTemplate:
        return types.ResourceTemplate(
            uri_template=self.uri_template,
            name=self.name,
            title=self.title,
            description=self.description,
            mime_type=self.mime_type,
        )


def template_matcher(uri_template: str) -> Matcher:
    """A matcher for the RFC 6570 subset `{name}` (one path segment) and `{+name}` (the rest, '/' included).

    Values are percent-decoded; a URI matches only as a whole, and no variable is empty.
    """
    literal = _EXPRESSION.sub("", uri_template)
    if "{" in literal or "}" in literal:
        msg = f"URI template {uri_template!r}: only {{name}} and {{+name}} expressions are supported"
        raise ValueError(msg)
    pattern, position = "", 0
    for expression in _EXPRESSION.finditer(uri_template):
        pattern += re.escape(uri_template[position : expression.start()])
        reserved, name = expression.groups()
        pattern += f"(?P<{name}>.+)" if reserved else f"(?P<{name}>[^/?#]+)"
        position = expression.end()
    compiled = re.compile(pattern + re.escape(uri_template[position:]))

    def match(uri: str) -> dict[str, str] | None:
        found = compiled.fullmatch(uri)
        return None if found is None else {name: unquote(value) for name, value in found.groupdict().items()}

    return match


def resource(
    uri: str,
    *,
    name: str | None = None,
    title: str | None = None,
    mime_type: str | None = None,
    in_thread: bool = True,
) -> Callable[[Callable[[], Any]], ResourceSpec]:
    """Make a function of no arguments the resource at `uri`; its docstring is the description.

    A sync function runs in a worker thread unless `in_thread=False` (for one that never blocks).
    """

    def build(function: Callable[[], Any]) -> ResourceSpec:
        listed = Listed(uri, name or function.__name__, mime_type, None, title, inspect.getdoc(function))
        return ResourceSpec(listed, function, in_thread)

    return build


def template(
    uri_template: str,
    *,
    name: str | None = None,
    title: str | None = None,
    mime_type: str | None = None,
    complete: Mapping[str, Completer] | None = None,
    match: Matcher | None = None,
    in_thread: bool = True,
) -> Callable[[Callable[..., Any]], TemplateSpec]:
    """Make a function the reader of the resources `uri_template` describes.

    `complete` maps a variable to its completer. `match` replaces the template's own matching, for a
    family whose URIs the template cannot describe exactly (it returns the function's keyword arguments,
    or None when the URI is not one of the family). A sync function runs in a worker thread unless
    `in_thread=False`.
    """

    def build(function: Callable[..., Any]) -> TemplateSpec:
        variables = [found.group(2) for found in _EXPRESSION.finditer(uri_template)]
        parameters = inspect.signature(function).parameters
        if match is None and set(variables) - parameters.keys():
            msg = f"{function.__name__} must take the variables of {uri_template!r}: {', '.join(variables)}"
            raise ValueError(msg)
        if unknown := set(complete or {}) - set(variables):
            msg = f"{uri_template!r} has no variable {sorted(unknown)[0]!r} to complete"
            raise ValueError(msg)
        return TemplateSpec(
            uri_template=uri_template,
            name=name or function.__name__,
            read=function,
            match=match or template_matcher(uri_template),
            title=title,
            description=inspect.getdoc(function),
            mime_type=mime_type,
            completers=dict(complete or {}),
            takes_uri="uri" in parameters,
            in_thread=in_thread,
        )

    return build


def contents(
    uri: str, value: Readable, mime_type: str | None
) -> types.TextResourceContents | types.BlobResourceContents:
    """What a read function returned, as the wire's contents block."""
    if isinstance(value, str):
        return types.TextResourceContents(uri=uri, mime_type=mime_type or TEXT, text=value)
    if isinstance(value, bytes):
        blob = base64.b64encode(value).decode("ascii")
        return types.BlobResourceContents(uri=uri, mime_type=mime_type or OCTET_STREAM, blob=blob)
    if value.text is not None:
        return types.TextResourceContents(uri=uri, mime_type=value.mime_type or mime_type or TEXT, text=value.text)
    blob = base64.b64encode(value.data or b"").decode("ascii")
    return types.BlobResourceContents(uri=uri, mime_type=value.mime_type or mime_type or OCTET_STREAM, blob=blob)


class ResourceTable:
    """The resources of one server, served as the resources/* methods (and subscriptions, given a hub)."""

    def __init__(
        self,
        resources: Iterable[ResourceSpec] = (),
        templates: Iterable[TemplateSpec] = (),
        *,
        lister: Lister | None = None,
        hub: SubscriptionHub | None = None,
    ) -> None:
        self.resources: dict[str, ResourceSpec] = {}
        for spec in resources:
            if spec.listed.uri in self.resources:
                msg = f"two resources have the URI {spec.listed.uri!r}"
                raise ValueError(msg)
            self.resources[spec.listed.uri] = spec
        self.templates: dict[str, TemplateSpec] = {}
        for spec in templates:
            if spec.uri_template in self.templates:
                msg = f"two templates are {spec.uri_template!r}"
                raise ValueError(msg)
            self.templates[spec.uri_template] = spec
        self.lister = lister
        self.hub = hub
        self._statics = [spec.listed.definition() for spec in self.resources.values()]
        self._templates = types.ListResourceTemplatesResult(
            resource_templates=[spec.definition() for spec in self.templates.values()]
        )

    # --- reading --------------------------------------------------------------------------------------------

    def _route(self, uri: str) -> tuple[Callable[..., Any], dict[str, str], str | None, bool]:
        """The function that reads `uri`, its keyword arguments, the declared MIME type and whether it may block."""
        if (spec := self.resources.get(uri)) is not None:
            return spec.read, {}, spec.listed.mime_type, spec.in_thread
        for family in self.templates.values():
            variables = family.match(uri)
            if variables is not None:
                kwargs = {**variables, "uri": uri} if family.takes_uri else dict(variables)
                return family.read, kwargs, family.mime_type, family.in_thread
        msg = f"no resource {uri!r}; resources/list and resources/templates/list show what this server has"
        raise NotFound(msg)

    async def read(self, uri: str) -> types.ReadResourceResult:
        function, kwargs, mime_type, in_thread = self._route(uri)
        value = await call(functools.partial(function, **kwargs), in_thread=in_thread)
        return types.ReadResourceResult(contents=[contents(uri, value, mime_type)])

    # --- protocol handlers ----------------------------------------------------------------------------------

    async def on_list_resources(self, ctx: Context, params: types.PaginatedRequestParams) -> types.ListResourcesResult:
        listed: list[types.Resource] = [] if params.cursor else list(self._statics)
        following = None
        if self.lister is not None:
            page, following = await call(self.lister, params.cursor)
            listed += [item.definition() for item in page]
        elif params.cursor:
            msg = "invalid cursor: pass back the nextCursor of the previous resources/list page unchanged"
            raise InvalidArgument(msg)
        if self.hub is not None and not is_modern(ctx):
            self.hub.want_list_changes(ctx.session)  # it has a list now, so it is told when the list changes
        return types.ListResourcesResult(resources=listed, next_cursor=following)

    async def on_list_resource_templates(
        self, ctx: Context, params: types.PaginatedRequestParams
    ) -> types.ListResourceTemplatesResult:
        return self._templates

    async def on_read_resource(self, ctx: Context, params: types.ReadResourceRequestParams) -> types.ReadResourceResult:
        return await self.read(params.uri)

    async def on_subscribe_resource(self, ctx: Context, params: types.SubscribeRequestParams) -> types.EmptyResult:
        assert self.hub is not None
        self._route(params.uri)
        await self.hub.subscribe(params.uri, ctx.session)
        return types.EmptyResult()

    async def on_unsubscribe_resource(self, ctx: Context, params: types.UnsubscribeRequestParams) -> types.EmptyResult:
        assert self.hub is not None
        await self.hub.unsubscribe(params.uri, ctx.session)
        return types.EmptyResult()

    async def on_subscriptions_listen(self, ctx: Context, params: types.SubscriptionsListenRequestParams) -> Any:
        assert self.hub is not None
        for uri in params.notifications.resource_subscriptions or ():
            self._route(uri)
        return await self.hub.listen(ctx, params)

    def handlers(self) -> dict[str, Any]:
        """The SDK `Server` keyword arguments for what this table serves."""
        handlers: dict[str, Any] = {
            "on_list_resources": self.on_list_resources,
            "on_list_resource_templates": self.on_list_resource_templates,
            "on_read_resource": self.on_read_resource,
        }
        if self.hub is not None:
            handlers |= {
                "on_subscribe_resource": self.on_subscribe_resource,
                "on_unsubscribe_resource": self.on_unsubscribe_resource,
                "on_subscriptions_listen": self.on_subscriptions_listen,
            }
        return handlers

    # --- completion -----------------------------------------------------------------------------------------

    @property
    def completes(self) -> bool:
        return any(spec.completers for spec in self.templates.values())

    def completer(self, reference: str, argument: str) -> Completer | None:
        """The completer of `argument` of the template `reference`; None for a variable without one."""
        family = self.templates.get(reference)
        if family is None:
            msg = f"no resource template {reference!r}; resources/templates/list shows them"
            raise InvalidArgument(msg)
        variables = [found.group(2) for found in _EXPRESSION.finditer(family.uri_template)]
        if argument not in variables:
            msg = f"the template {reference!r} has the variables {', '.join(variables)}; got {argument!r}"
            raise InvalidArgument(msg)
        return family.completers.get(argument)
