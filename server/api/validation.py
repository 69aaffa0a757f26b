"""The one validation layer: every API request is held to openapi.json before its view
runs.

``validate_request`` runs before every view of the blueprint (after authentication):
it finds the request's operation in the document and checks, in this order,

* the path parameters: a value the document does not allow (an id above 2**31 - 1, a
  code with a NUL ...) names nothing that can exist, so the answer is 404 with the
  same error code the lookup would give (``counter_not_found`` ...);
* the query parameters (and documented headers): 422 ``invalid_input`` naming the
  parameter; a NUL in any parameter, documented or not, is refused the same way;
* the JSON body (``json_body``: at most MAX_BODY_BYTES, nested at most MAX_JSON_DEPTH),
  against its schema, then for a NUL or lone surrogate in any string (after the schema,
  which bounds how much there is to search): 422 naming the field and what is wrong.

Schemas are compiled once per operation (references inlined, and keywords reordered so
that the cheap, bounding ones such as type, lengths and item counts are checked before
items and properties are walked), and only the first error is computed. The views keep
the checks the document cannot express (a rule across fields, a lookup in the database).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from flask import request
from flask.json.provider import DefaultJSONProvider
from jsonschema import Draft202012Validator, FormatChecker, validators
from jsonschema.exceptions import ValidationError, best_match

from .. import limits
from ..errors import InvalidInput, MalformedRequest, NotFound
from . import bp
from .openapi import load_spec
from .request import json_body

# What a failed path parameter is: the 404 code the view's lookup gives for it.
NOT_FOUND_CODES = {
    "center_code": ("center", "center_not_found"),
    "service_code": ("service", "service_not_found"),
    "category_code": ("category", "category_not_found"),
    "counter_id": ("counter", "counter_not_found"),
    "ticket_id": ("ticket", "ticket_not_found"),
    "tracking_token": ("ticket", "ticket_not_found"),
    "token": ("appointment", "appointment_not_found"),
    "username": ("staff member", "staff_not_found"),
    "name": ("device", "device_not_found"),
    "action": ("action", "unknown_action"),
}
# Patterns of openapi.json, said in words.
PATTERN_WORDS = {
    "^[a-z0-9][a-z0-9_-]{0,63}$": "must be a code of lowercase letters, digits, '-' or '_' "
    "(max 64)",
    "^[A-Z]{1,3}$": "must be 1 to 3 uppercase Latin letters, e.g. A",
    "^([01]\\d|2[0-3]):[0-5]\\d$": 'must be a time like "09:00"',
    "^[A-Z]{1,3}[0-9]{3,6}$": "must be a ticket number: 1 to 3 capital letters and 3 to 6 "
    "digits, e.g. A012",
    "^[A-Za-z0-9_-]{1,64}$": "must be a token of letters, digits, '-' or '_' (max 64)",
    "^(20[0-9]{2}|2100)-[0-9]{2}-[0-9]{2}$": "must be a date between 2000-01-01 and "
    "2100-12-31 (YYYY-MM-DD)",
    limits.NO_NUL: "must not contain NUL characters (U+0000)",
}
TYPE_WORDS = {
    "string": "a string",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "object": "an object",
    "array": "a list",
    "null": "null",
}
# Checked first: each is cheap and bounds the work of the others.
FIRST_KEYWORDS = (
    "type",
    "const",
    "enum",
    "maxLength",
    "minLength",
    "maxItems",
    "minItems",
    "maxProperties",
    "minProperties",
    "required",
    "additionalProperties",
)
# Errors that say the object has the wrong shape, rather than a field the wrong value.
SHAPE_KEYWORDS = {"additionalProperties", "maxProperties", "required", "oneOf", "anyOf", "not"}
METHODS = {"get", "put", "post", "delete", "patch"}
_DIGITS = re.compile(r"[0-9]{1,100}")


@cache
def _regex(pattern: str) -> re.Pattern:
    """A schema's pattern as JSON Schema means it (ECMA-262): ``$`` is the end of the text
    (in Python it also matches before a final newline) and ``\\d`` is an ASCII digit."""
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + "\\Z"
    return re.compile(pattern, re.ASCII)


def _pattern(validator, pattern: str, instance: Any, schema: dict):
    if validator.is_type(instance, "string") and not _regex(pattern).search(instance):
        yield ValidationError(f"does not match {pattern}")


Validator = validators.extend(Draft202012Validator, {"pattern": _pattern})


class LimitedJSONProvider(DefaultJSONProvider):
    """Flask's JSON, except that ``request.get_json`` refuses (400) a body nested deeper
    than MAX_JSON_DEPTH before parsing it, instead of recursing until Python gives up."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            return limits.loads_json(s)
        except limits.JSONTooDeep as exc:
            # Not a ValueError for Flask: get_json(silent=True) must not hide it.
            raise MalformedRequest(
                f"the JSON body may be nested at most {exc.limit} levels deep",
                field="body",
                limit=exc.limit,
            ) from None


@dataclass(frozen=True)
class Parameter:
    name: str
    required: bool
    kind: str  # the schema's type ("integer" values come as text)
    validator: Validator


@dataclass(frozen=True)
class Operation:
    path: tuple[Parameter, ...]
    query: tuple[Parameter, ...]
    headers: tuple[Parameter, ...]
    body: Validator | None


def validate_request() -> None:
    """Before every API view: hold the request to its operation in openapi.json."""
    if request.url_rule is None:
        return
    method = "GET" if request.method == "HEAD" else request.method  # HEAD runs the GET view
    operation = operations().get((request.url_rule.rule, method))
    if operation is None:
        return  # OPTIONS, answered by Flask itself
    for parameter in operation.path:
        _check_path(parameter, (request.view_args or {}).get(parameter.name))
    _check_query(operation.query)
    for parameter in operation.headers:
        value = request.headers.get(parameter.name)
        if value is not None:
            _check_parameter(parameter, value)
    if operation.body is not None:
        _check(operation.body, json_body(check_text=False))
        json_body()  # the characters, once the schema has bounded the body


def _check_path(parameter: Parameter, value: Any) -> None:
    error = _first_error(parameter.validator, value)
    if error is None:
        return
    what, code = NOT_FOUND_CODES.get(parameter.name, (parameter.name, "not_found"))
    shown = f"'{limits.printable(value)}'" if isinstance(value, str) else value
    raise NotFound(
        f"unknown {what} {shown}: {parameter.name} {_words(error)}",
        code=code,
        field=parameter.name,
    )


def _check_query(documented: tuple[Parameter, ...]) -> None:
    for name, value in request.args.items(multi=True):
        for text in (name, value):
            problem = limits.text_problem(text)
            if problem:
                raise InvalidInput(
                    f"the parameter '{limits.printable(name)}' {problem}",
                    field=limits.printable(name),
                )
    for parameter in documented:
        values = request.args.getlist(parameter.name)
        if not values and parameter.required:
            raise InvalidInput(f"'{parameter.name}' is required", field=parameter.name)
        for value in values:
            _check_parameter(parameter, value)


def _check_parameter(parameter: Parameter, text: str) -> None:
    value: Any = text
    if parameter.kind == "integer" and _DIGITS.fullmatch(text):
        value = int(text)
    error = _first_error(parameter.validator, value)
    if error is not None:
        raise InvalidInput(f"'{parameter.name}' {_words(error)}", field=parameter.name)


def _check(validator: Validator, body: Any) -> None:
    error = _first_error(validator, body)
    described = _describe(error) if error is not None else None
    if described is not None:
        field, message = described
        raise InvalidInput(message, field=limits.field_of(field) or None)


def _first_error(validator: Validator, instance: Any) -> ValidationError | None:
    return next(validator.iter_errors(instance), None)


# --- errors in words ------------------------------------------------------------------------


def _describe(error: ValidationError) -> tuple[str, str] | None:
    """(the path of the field in error, the message naming it) for an error in a body;
    None for one only the view can word (see _describe_choice)."""
    if error.validator in ("anyOf", "oneOf") and error.context:
        return _describe_choice(error)
    field = _path(error.absolute_path)
    instance, value = error.instance, error.validator_value
    if error.validator == "required":
        missing = limits.join_path(field, next(n for n in value if n not in instance))
        return missing, f"'{missing}' is required"
    if error.validator in ("additionalProperties", "maxProperties"):
        allowed = sorted(error.schema.get("properties", {}))
        return _unknown(field, [name for name in instance if name not in allowed], allowed)
    if error.validator == "not" and isinstance(value, dict) and "required" in value:
        extra = limits.join_path(field, value["required"][0])
        return extra, f"'{extra}' is not allowed here"
    return field, f"'{field}' {_words(error)}" if field else f"the body {_words(error)}"


def _describe_choice(error: ValidationError) -> tuple[str, str] | None:
    """A body that fits none of several shapes (a ticket action's body): the deepest error
    of any shape names a field the caller got wrong, else a field no shape has. Fields
    that are each valid but do not go together are left to the view, which knows the
    shape it needs (the action) and says which field is one too many."""
    deepest = max(
        error.context,
        key=lambda e: (len(e.absolute_path), e.validator not in SHAPE_KEYWORDS),
    )
    if len(deepest.absolute_path) > len(error.absolute_path) or (
        deepest.validator not in SHAPE_KEYWORDS
    ):
        return _describe(deepest)
    field = _path(error.absolute_path)
    allowed = sorted({name for shape in error.validator_value for name in _properties(shape)})
    given = list(error.instance) if isinstance(error.instance, dict) else []
    unknown = [name for name in given if name not in allowed]
    if unknown:
        return _unknown(field, unknown, allowed)
    if given:
        return None
    return _describe(best_match(error.context))


def _unknown(field: str, unknown: list[str], allowed: list[str]) -> tuple[str, str]:
    shown = ", ".join(limits.printable(name) for name in unknown[:10])
    where = f" in '{field}'" if field else ""
    return (
        limits.join_path(field, limits.printable(unknown[0])),
        f"unknown field(s){where}: {shown}; allowed: {', '.join(allowed) or 'none'}",
    )


def _properties(shape: dict) -> dict:
    return _resolve(load_spec(), shape).get("properties", {})


def _words(error: ValidationError) -> str:
    value, schema = error.validator_value, error.schema
    match error.validator:
        case "type":
            kinds = [value] if isinstance(value, str) else value
            return "must be " + " or ".join(TYPE_WORDS.get(k, k) for k in kinds)
        case "enum":
            return "must be one of " + ", ".join(str(v) for v in value)
        case "const":
            return f"must be {value}"
        case "minimum" | "maximum":
            low, high = schema.get("minimum"), schema.get("maximum")
            if low is not None and high is not None:
                return f"must be between {low} and {high}"
            return f"must be at least {low}" if low is not None else f"must be at most {high}"
        case "maxLength":
            return f"must be at most {value} characters (it has {len(error.instance)})"
        case "minLength":
            return "must not be empty" if value == 1 else f"must be at least {value} characters"
        case "maxItems":
            return f"may list at most {value} items"
        case "minItems":
            return f"must list at least {value} items"
        case "uniqueItems":
            return "lists an item twice"
        case "pattern":
            return PATTERN_WORDS.get(value, f"must match {value}")
        case "format":
            return f"must be a {value}" + (" as YYYY-MM-DD" if value == "date" else "")
    return "is not valid"


def _path(parts) -> str:
    path = ""
    for part in parts:
        path = f"{path}[{part}]" if isinstance(part, int) else limits.join_path(path, part)
    return path


# --- the operations, compiled once ------------------------------------------------------------


@cache
def operations() -> dict[tuple[str, str], Operation]:
    """(Flask rule, method) -> the operation's compiled checks, for every documented route."""
    spec = load_spec()
    compiled = {}
    for path, item in spec["paths"].items():
        shared = item.get("parameters", [])
        for method, op in item.items():
            if method not in METHODS:
                continue
            params = [_resolve(spec, p) for p in (*shared, *op.get("parameters", []))]
            by_place = {
                place: tuple(
                    _parameter(spec, p) for p in params if p["in"] == place and "schema" in p
                )
                for place in ("path", "query", "header")
            }
            body = op.get("requestBody", {}).get("content", {}).get("application/json")
            compiled[(_flask_rule(path, by_place["path"]), method.upper())] = Operation(
                path=by_place["path"],
                query=by_place["query"],
                headers=by_place["header"],
                body=_validator(spec, body["schema"]) if body else None,
            )
    return compiled


def _flask_rule(path: str, path_params: tuple[Parameter, ...]) -> str:
    """The Flask rule of a documented path: /counters/{counter_id} -> /counters/<int:...>."""
    kinds = {p.name: p.kind for p in path_params}

    def rule_part(match: re.Match) -> str:
        name = match.group(1)
        return f"<int:{name}>" if kinds.get(name) == "integer" else f"<{name}>"

    return bp.url_prefix + re.sub(r"\{([^}]+)\}", rule_part, path)


def _parameter(spec: dict, param: dict) -> Parameter:
    schema = _compiled(spec, param["schema"])
    return Parameter(
        name=param["name"],
        required=param.get("required", False),
        kind=schema.get("type", "string"),
        validator=Validator(schema, format_checker=FormatChecker()),
    )


def _validator(spec: dict, schema: dict) -> Validator:
    return Validator(_compiled(spec, schema), format_checker=FormatChecker())


def _resolve(spec: dict, node: dict) -> dict:
    while "$ref" in node:
        _, *parts = node["$ref"].split("/")
        node = spec
        for part in parts:
            node = node[part]
    return node


def _compiled(spec: dict, node: Any) -> Any:
    """A copy of a schema made quick to check: every ``$ref`` replaced by what it points
    to (the document has no recursive schemas; looking references up costs more than the
    checks), and the cheap keywords first in each object: jsonschema checks keywords in
    order, so a 1,000-item list is refused for its length before its items are looked at."""
    if isinstance(node, list):
        return [_compiled(spec, item) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        node = {
            **_resolve(spec, {"$ref": node["$ref"]}),
            **{k: v for k, v in node.items() if k != "$ref"},
        }
    first = {key: node[key] for key in FIRST_KEYWORDS if key in node}
    rest = {key: value for key, value in node.items() if key not in first}
    return {key: _compiled(spec, value) for key, value in {**first, **rest}.items()}
