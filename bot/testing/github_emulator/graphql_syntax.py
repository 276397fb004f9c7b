"""A small GraphQL document parser: operations, variables, fields, aliases, arguments and fragments.

Enough of the GraphQL grammar (October 2021 spec) for the queries a review bot sends; directives and
type-system definitions are rejected with a parse error rather than silently ignored.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

_TOKEN = re.compile(
    r"""
    (?P<ignored>[\s,\ufeff]+|\#[^\n\r]*)
    |(?P<block>\"\"\"(?:\\\"\"\"|[^"]|"(?!""))*\"\"\")
    |(?P<string>"(?:\\.|[^"\\\n])*")
    |(?P<number>-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?)
    |(?P<name>[_A-Za-z][_0-9A-Za-z]*)
    |(?P<spread>\.\.\.)
    |(?P<punct>[!$():=@\[\]{}|&])
    """,
    re.VERBOSE,
)


class GraphQLSyntaxError(Exception):
    def __init__(self, message: str, line: int, column: int) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column


@dataclass(frozen=True)
class Variable:
    name: str


@dataclass(frozen=True)
class EnumValue:
    name: str


@dataclass
class Field:
    name: str
    alias: str | None
    arguments: dict[str, Any]
    selections: list[Selection] | None
    line: int
    column: int

    @property
    def key(self) -> str:
        return self.alias or self.name


@dataclass
class FragmentSpread:
    name: str


@dataclass
class InlineFragment:
    type_condition: str | None
    selections: list[Selection]


Selection = Field | FragmentSpread | InlineFragment


@dataclass
class VariableDefinition:
    name: str
    type: str  # e.g. "String!", "[ID!]"
    default: Any = None

    @property
    def required(self) -> bool:
        return self.type.endswith("!") and self.default is None


@dataclass
class OperationDefinition:
    kind: str  # "query" | "mutation"
    name: str | None
    variables: list[VariableDefinition]
    selections: list[Selection]


@dataclass
class Document:
    operations: list[OperationDefinition] = field(default_factory=list)
    fragments: dict[str, tuple[str, list[Selection]]] = field(default_factory=dict)


@dataclass(frozen=True)
class _Token:
    kind: str
    value: str
    line: int
    column: int


def _tokenize(source: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(source):
        found = _TOKEN.match(source, pos)
        line = source.count("\n", 0, pos) + 1
        column = pos - (source.rfind("\n", 0, pos) + 1) + 1
        if found is None:
            raise GraphQLSyntaxError(f'Parse error on "{source[pos]}" at [{line}, {column}]', line, column)
        kind = found.lastgroup or ""
        if kind != "ignored":
            tokens.append(_Token(kind, found.group(), line, column))
        pos = found.end()
    return tokens


class _Parser:
    def __init__(self, source: str) -> None:
        self.tokens = _tokenize(source)
        self.pos = 0

    def peek(self, value: str | None = None, kind: str | None = None) -> bool:
        if self.pos >= len(self.tokens):
            return False
        token = self.tokens[self.pos]
        return (value is None or token.value == value) and (kind is None or token.kind == kind)

    def next(self) -> _Token:
        if self.pos >= len(self.tokens):
            last = self.tokens[-1] if self.tokens else _Token("eof", "", 1, 1)
            raise GraphQLSyntaxError("Parse error on end of input", last.line, last.column)
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def expect(self, value: str | None = None, kind: str | None = None) -> _Token:
        token = self.next()
        if (value is not None and token.value != value) or (kind is not None and token.kind != kind):
            raise GraphQLSyntaxError(
                f'Parse error on "{token.value}" at [{token.line}, {token.column}]', token.line, token.column
            )
        return token

    def document(self) -> Document:
        doc = Document()
        while self.pos < len(self.tokens):
            if self.peek("{"):
                doc.operations.append(OperationDefinition("query", None, [], self.selection_set()))
            elif self.peek("fragment"):
                self.next()
                name = self.expect(kind="name").value
                self.expect("on")
                type_name = self.expect(kind="name").value
                doc.fragments[name] = (type_name, self.selection_set())
            elif self.peek("query") or self.peek("mutation"):
                kind = self.next().value
                op_name = self.next().value if self.peek(kind="name") else None
                variables = self.variable_definitions() if self.peek("(") else []
                doc.operations.append(OperationDefinition(kind, op_name, variables, self.selection_set()))
            else:
                token = self.next()
                raise GraphQLSyntaxError(
                    f'Parse error on "{token.value}" at [{token.line}, {token.column}]',
                    token.line,
                    token.column,
                )
        return doc

    def variable_definitions(self) -> list[VariableDefinition]:
        self.expect("(")
        result: list[VariableDefinition] = []
        while not self.peek(")"):
            self.expect("$")
            name = self.expect(kind="name").value
            self.expect(":")
            type_name = self.type_ref()
            default = None
            if self.peek("="):
                self.next()
                default = self.value(const=True)
            result.append(VariableDefinition(name, type_name, default))
        self.expect(")")
        return result

    def type_ref(self) -> str:
        if self.peek("["):
            self.next()
            inner = self.type_ref()
            self.expect("]")
            text = f"[{inner}]"
        else:
            text = self.expect(kind="name").value
        if self.peek("!"):
            self.next()
            text += "!"
        return text

    def selection_set(self) -> list[Selection]:
        self.expect("{")
        selections: list[Selection] = []
        while not self.peek("}"):
            if self.peek(kind="spread"):
                self.next()
                if self.peek("on"):
                    self.next()
                    type_name = self.expect(kind="name").value
                    selections.append(InlineFragment(type_name, self.selection_set()))
                elif self.peek("{"):
                    selections.append(InlineFragment(None, self.selection_set()))
                else:
                    selections.append(FragmentSpread(self.expect(kind="name").value))
                continue
            selections.append(self.field())
        self.expect("}")
        if not selections:
            raise GraphQLSyntaxError("Parse error: empty selection set", 0, 0)
        return selections

    def field(self) -> Field:
        first = self.expect(kind="name")
        alias, name = None, first.value
        if self.peek(":"):
            self.next()
            alias, name = name, self.expect(kind="name").value
        arguments: dict[str, Any] = {}
        if self.peek("("):
            self.next()
            while not self.peek(")"):
                arg = self.expect(kind="name").value
                self.expect(":")
                arguments[arg] = self.value(const=False)
            self.expect(")")
        if self.peek("@"):
            token = self.next()
            raise GraphQLSyntaxError("Directives are not supported by the emulator", token.line, token.column)
        selections = self.selection_set() if self.peek("{") else None
        return Field(name, alias, arguments, selections, first.line, first.column)

    def value(self, *, const: bool) -> Any:
        token = self.next()
        if token.value == "$" and not const:
            return Variable(self.expect(kind="name").value)
        if token.kind == "number":
            return float(token.value) if any(c in token.value for c in ".eE") else int(token.value)
        if token.kind == "string":
            return json.loads(token.value)
        if token.kind == "block":
            return token.value[3:-3].replace('\\"""', '"""')
        if token.kind == "name":
            return {"true": True, "false": False, "null": None}.get(token.value, EnumValue(token.value))
        if token.value == "[":
            items = []
            while not self.peek("]"):
                items.append(self.value(const=const))
            self.next()
            return items
        if token.value == "{":
            obj: dict[str, Any] = {}
            while not self.peek("}"):
                key = self.expect(kind="name").value
                self.expect(":")
                obj[key] = self.value(const=const)
            self.next()
            return obj
        raise GraphQLSyntaxError(
            f'Parse error on "{token.value}" at [{token.line}, {token.column}]', token.line, token.column
        )


def parse(source: str) -> Document:
    return _Parser(source).document()
