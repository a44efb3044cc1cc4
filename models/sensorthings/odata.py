"""The SensorThings (OData 4 subset) query language, parsed into an AST.

`parse_filter` and `parse_orderby` turn `$filter`/`$orderby` text into nodes;
`parse_expand` and `parse_select` the other options. Nothing here knows SQL:
storage/queries/sta_filter.py compiles the nodes into SQL with parameters, so
no client text ever reaches SQL as text. Every malformed input raises
`QueryError` (a 400); what is well-formed but not implemented raises
`NotImplementedQuery` (a 501).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Literal as TypingLiteral
from typing import Union

MAX_TEXT = 8192
MAX_DEPTH = 40
MAX_EXPAND_DEPTH = 5


class QueryError(ValueError):
    """The request is malformed (400)."""


class NotImplementedQuery(QueryError):  # noqa: N818 - a 501, named as OData says
    """The request is well-formed but asks for what this server does not do (501)."""


LiteralType = TypingLiteral["number", "string", "bool", "null", "datetime", "duration", "geometry"]


@dataclass(frozen=True, slots=True)
class Literal:
    value: object
    type: LiteralType


@dataclass(frozen=True, slots=True)
class Path:
    segments: tuple[str, ...]

    def __str__(self) -> str:
        return "/".join(self.segments)


@dataclass(frozen=True, slots=True)
class Unary:
    op: TypingLiteral["not", "neg"]
    operand: Node


@dataclass(frozen=True, slots=True)
class Binary:
    op: str
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Call:
    name: str
    args: tuple[Node, ...]


Node = Union[Literal, Path, Unary, Binary, Call]  # noqa: UP007 - a recursive alias

COMPARISONS = frozenset({"eq", "ne", "gt", "ge", "lt", "le"})
ARITHMETIC_ADD = frozenset({"add", "sub"})
ARITHMETIC_MUL = frozenset({"mul", "div", "mod"})
KEYWORDS = COMPARISONS | ARITHMETIC_ADD | ARITHMETIC_MUL | {"and", "or", "not"}

# name -> (min args, max args)
FUNCTIONS: dict[str, tuple[int, int]] = {
    "substringof": (2, 2),
    "contains": (2, 2),
    "endswith": (2, 2),
    "startswith": (2, 2),
    "length": (1, 1),
    "indexof": (2, 2),
    "substring": (2, 3),
    "tolower": (1, 1),
    "toupper": (1, 1),
    "trim": (1, 1),
    "concat": (2, 2),
    "year": (1, 1),
    "month": (1, 1),
    "day": (1, 1),
    "hour": (1, 1),
    "minute": (1, 1),
    "second": (1, 1),
    "fractionalseconds": (1, 1),
    "date": (1, 1),
    "time": (1, 1),
    "totaloffsetminutes": (1, 1),
    "now": (0, 0),
    "mindatetime": (0, 0),
    "maxdatetime": (0, 0),
    "round": (1, 1),
    "floor": (1, 1),
    "ceiling": (1, 1),
    "geo.distance": (2, 2),
    "geo.intersects": (2, 2),
    "geo.length": (1, 1),
    "st_equals": (2, 2),
    "st_disjoint": (2, 2),
    "st_touches": (2, 2),
    "st_within": (2, 2),
    "st_overlaps": (2, 2),
    "st_crosses": (2, 2),
    "st_intersects": (2, 2),
    "st_contains": (2, 2),
    "st_relate": (3, 3),
}

_DATETIME = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2}))?"
)
_NUMBER = re.compile(r"\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")
_NAME = re.compile(r"[A-Za-z_$@][A-Za-z0-9_.\-@]*")
_TYPED_STRING = re.compile(r"(geography|geometry|duration)'", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Token:
    kind: TypingLiteral["literal", "name", "punct", "end"]
    text: str
    pos: int
    literal: Literal | None = None


def _read_quoted(text: str, start: int) -> tuple[str, int]:
    """The content of the quoted string whose opening quote is at `start`
    ('' inside is a quote); returns (content, index after the closing quote)."""
    out: list[str] = []
    i = start + 1
    while i < len(text):
        c = text[i]
        if c == "'":
            if i + 1 < len(text) and text[i + 1] == "'":
                out.append("'")
                i += 2
                continue
            return "".join(out), i + 1
        out.append(c)
        i += 1
    raise QueryError(f"unterminated string starting at position {start}")


def _datetime(text: str) -> datetime:
    value = text.replace("Z", "+00:00")
    if "T" not in value:
        value += "T00:00:00+00:00"
    # Python takes at most 6 fractional digits.
    value = re.sub(r"\.(\d{6})\d+", r".\1", value)
    try:
        return datetime.fromisoformat(value)
    except ValueError as exc:
        raise QueryError(f"invalid date/time {text!r}") from exc


def tokenize(text: str) -> list[Token]:  # noqa: PLR0912, PLR0915 - one branch a token kind
    if len(text) > MAX_TEXT:
        raise QueryError(f"the expression is longer than {MAX_TEXT} characters")
    tokens: list[Token] = []
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
            continue
        if c in "(),/":
            tokens.append(Token("punct", c, i))
            i += 1
            continue
        if c == "'":
            value, i2 = _read_quoted(text, i)
            tokens.append(Token("literal", value, i, Literal(value, "string")))
            i = i2
            continue
        typed = _TYPED_STRING.match(text, i)
        if typed:
            kind = typed.group(1).lower()
            value, i2 = _read_quoted(text, typed.end() - 1)
            lit: Literal = (
                Literal(value, "duration") if kind == "duration" else Literal(value, "geometry")
            )
            tokens.append(Token("literal", value, i, lit))
            i = i2
            continue
        moment = _DATETIME.match(text, i)
        if moment and (moment.end() == n or not text[moment.end()].isalnum()):
            raw = moment.group(0)
            tokens.append(Token("literal", raw, i, Literal(_datetime(raw), "datetime")))
            i = moment.end()
            continue
        number = _NUMBER.match(text, i)
        if number:
            raw = number.group(0)
            end = number.end()
            if end < n and (text[end].isalpha() or text[end] == "_"):
                raise QueryError(f"invalid number at position {i}: {text[i : end + 1]!r}")
            try:
                value_num = Decimal(raw)
            except InvalidOperation as exc:  # pragma: no cover - the regex admits only numbers
                raise QueryError(f"invalid number {raw!r}") from exc
            tokens.append(Token("literal", raw, i, Literal(value_num, "number")))
            i = end
            continue
        name = _NAME.match(text, i)
        if name:
            word = name.group(0)
            lowered = word.lower()
            if lowered in ("true", "false"):
                tokens.append(Token("literal", word, i, Literal(lowered == "true", "bool")))
            elif lowered == "null":
                tokens.append(Token("literal", word, i, Literal(None, "null")))
            else:
                tokens.append(Token("name", word, i))
            i = name.end()
            continue
        if c == "-":
            tokens.append(Token("punct", "-", i))
            i += 1
            continue
        raise QueryError(f"unexpected character {c!r} at position {i}")
    tokens.append(Token("end", "", n))
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.i = 0
        self.depth = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def expect(self, text: str) -> None:
        tok = self.take()
        if tok.text != text or tok.kind != "punct":
            raise QueryError(f"expected {text!r} at position {tok.pos}, found {tok.text!r}")

    def word(self, *words: str) -> str | None:
        tok = self.tok
        if tok.kind == "name" and tok.text.lower() in words:
            self.i += 1
            return tok.text.lower()
        return None

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise QueryError(f"the expression nests deeper than {MAX_DEPTH} levels")

    def done(self) -> None:
        if self.tok.kind != "end":
            raise QueryError(f"unexpected {self.tok.text!r} at position {self.tok.pos}")

    def expression(self) -> Node:
        self.enter()
        try:
            return self.or_expr()
        finally:
            self.depth -= 1

    def or_expr(self) -> Node:
        left = self.and_expr()
        while self.word("or"):
            left = Binary("or", left, self.and_expr())
        return left

    def and_expr(self) -> Node:
        left = self.not_expr()
        while self.word("and"):
            left = Binary("and", left, self.not_expr())
        return left

    def not_expr(self) -> Node:
        if self.word("not"):
            self.enter()
            try:
                return Unary("not", self.not_expr())
            finally:
                self.depth -= 1
        return self.comparison()

    def comparison(self) -> Node:
        left = self.additive()
        op = self.word(*COMPARISONS)
        if op:
            left = Binary(op, left, self.additive())
            if self.tok.kind == "name" and self.tok.text.lower() in COMPARISONS:
                raise QueryError(f"comparisons do not chain (position {self.tok.pos})")
        return left

    def additive(self) -> Node:
        left = self.multiplicative()
        while op := self.word(*ARITHMETIC_ADD):
            left = Binary(op, left, self.multiplicative())
        return left

    def multiplicative(self) -> Node:
        left = self.unary()
        while op := self.word(*ARITHMETIC_MUL):
            left = Binary(op, left, self.unary())
        return left

    def unary(self) -> Node:
        if self.tok.kind == "punct" and self.tok.text == "-":
            self.take()
            self.enter()
            try:
                operand = self.unary()
            finally:
                self.depth -= 1
            if isinstance(operand, Literal) and operand.type == "number":
                assert isinstance(operand.value, Decimal)
                return Literal(-operand.value, "number")
            return Unary("neg", operand)
        return self.primary()

    def primary(self) -> Node:
        tok = self.take()
        if tok.kind == "literal":
            assert tok.literal is not None
            return tok.literal
        if tok.kind == "punct" and tok.text == "(":
            node = self.expression()
            self.expect(")")
            return node
        if tok.kind == "name":
            if tok.text.lower() in KEYWORDS:
                raise QueryError(f"unexpected {tok.text!r} at position {tok.pos}")
            if self.tok.kind == "punct" and self.tok.text == "(":
                return self.call(tok)
            segments = [tok.text]
            while self.tok.kind == "punct" and self.tok.text == "/":
                self.take()
                nxt = self.take()
                if nxt.kind != "name":
                    raise QueryError(f"expected a property name at position {nxt.pos}")
                segments.append(nxt.text)
            return Path(tuple(segments))
        if tok.kind == "end":
            raise QueryError("the expression ends too early")
        raise QueryError(f"unexpected {tok.text!r} at position {tok.pos}")

    def call(self, name_tok: Token) -> Node:
        name = name_tok.text.lower()
        if name not in FUNCTIONS:
            raise QueryError(f"unknown function {name_tok.text!r}")
        self.expect("(")
        args: list[Node] = []
        if not (self.tok.kind == "punct" and self.tok.text == ")"):
            args.append(self.expression())
            while self.tok.kind == "punct" and self.tok.text == ",":
                self.take()
                args.append(self.expression())
        self.expect(")")
        low, high = FUNCTIONS[name]
        if not low <= len(args) <= high:
            raise QueryError(f"{name} takes {low}..{high} arguments, not {len(args)}")
        return Call(name, tuple(args))


def parse_filter(text: str) -> Node:
    parser = _Parser(text)
    node = parser.expression()
    parser.done()
    return node


@dataclass(frozen=True, slots=True)
class OrderBy:
    expr: Node
    descending: bool


def parse_orderby(text: str) -> tuple[OrderBy, ...]:
    parser = _Parser(text)
    items: list[OrderBy] = []
    while True:
        expr = parser.additive()
        direction = parser.word("asc", "desc")
        items.append(OrderBy(expr, direction == "desc"))
        if parser.tok.kind == "punct" and parser.tok.text == ",":
            parser.take()
            continue
        break
    parser.done()
    return tuple(items)


@dataclass(frozen=True, slots=True)
class QueryOptions:
    """The options of one entity set request or of one $expand item."""

    filter: Node | None = None
    orderby: tuple[OrderBy, ...] = ()
    select: tuple[str, ...] | None = None
    expand: tuple[Expand, ...] = ()
    top: int | None = None
    skip: int | None = None
    count: bool | None = None


@dataclass(frozen=True, slots=True)
class Expand:
    navigation: str
    options: QueryOptions = field(default_factory=QueryOptions)
    # the options as written (a nested nextLink repeats them)
    raw: tuple[tuple[str, str], ...] = ()


def _split_top_level(text: str, separator: str) -> list[str]:
    """Split at `separator` outside parentheses and quoted strings."""
    parts: list[str] = []
    depth = 0
    quoted = False
    start = 0
    for i, c in enumerate(text):
        if c == "'":
            quoted = not quoted
        elif quoted:
            continue
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth < 0:
                raise QueryError(f"unbalanced ')' at position {i}")
        elif c == separator and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    if quoted:
        raise QueryError("unterminated string")
    if depth != 0:
        raise QueryError("unbalanced parentheses")
    parts.append(text[start:])
    return parts


def parse_select(text: str) -> tuple[str, ...]:
    names = tuple(p.strip() for p in text.split(","))
    for name in names:
        if not name or not _NAME.fullmatch(name.replace("/", "_")):
            raise QueryError(f"$select: invalid property {name!r}")
    return names


def parse_int_option(name: str, text: str) -> int:
    if not text.isdigit() or len(text) > 15:
        raise QueryError(f"{name} must be a non-negative integer, not {text[:40]!r}")
    return int(text)


def parse_count(text: str) -> bool:
    lowered = text.lower()
    if lowered not in ("true", "false"):
        raise QueryError(f"$count must be true or false, not {text[:40]!r}")
    return lowered == "true"


OPTION_NAMES = ("$filter", "$orderby", "$select", "$expand", "$top", "$skip", "$count")


def parse_options(raw: dict[str, str], depth: int = 0) -> QueryOptions:
    """QueryOptions from option name -> text (the request's or an expand item's)."""
    values: dict[str, object] = {}
    if "$filter" in raw:
        values["filter"] = parse_filter(raw["$filter"])
    if "$orderby" in raw:
        values["orderby"] = parse_orderby(raw["$orderby"])
    if "$select" in raw:
        values["select"] = parse_select(raw["$select"])
    if "$expand" in raw:
        values["expand"] = parse_expand(raw["$expand"], depth + 1)
    if "$top" in raw:
        values["top"] = parse_int_option("$top", raw["$top"])
    if "$skip" in raw:
        values["skip"] = parse_int_option("$skip", raw["$skip"])
    if "$count" in raw:
        values["count"] = parse_count(raw["$count"])
    return QueryOptions(**values)  # type: ignore[arg-type]


def parse_expand(text: str, depth: int = 1) -> tuple[Expand, ...]:
    if depth > MAX_EXPAND_DEPTH:
        raise QueryError(f"$expand nests deeper than {MAX_EXPAND_DEPTH} levels")
    items: list[Expand] = []
    for item in _split_top_level(text, ","):
        part = item.strip()
        if not part:
            raise QueryError("$expand: empty item")
        options: dict[str, str] = {}
        head = part
        if "(" in part:
            head, _, rest = part.partition("(")
            if not rest.endswith(")"):
                raise QueryError(f"$expand: text after the options of {head!r}")
            for written in _split_top_level(rest[:-1], ";"):
                option = written.strip()
                if not option:
                    continue
                name, eq, value = option.partition("=")
                name = name.strip()
                if not eq or name not in OPTION_NAMES:
                    raise QueryError(f"$expand: invalid option {option[:60]!r}")
                if name in options:
                    raise QueryError(f"$expand: {name} given twice")
                options[name] = value
        segments = [s.strip() for s in head.split("/")]
        if any(not s or not _NAME.fullmatch(s) for s in segments):
            raise QueryError(f"$expand: invalid navigation {head!r}")
        # A/B(opts) is A($expand=B(opts)).
        inner = parse_options(options, depth + len(segments) - 1)
        node = Expand(segments[-1], inner, tuple(options.items()))
        for segment in reversed(segments[:-1]):
            node = Expand(segment, QueryOptions(expand=(node,)))
        items.append(node)
    return tuple(items)
