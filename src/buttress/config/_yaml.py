"""YAML composition with bounded work: aliases, nesting depth and expanded size are capped.

PyYAML's composer gives an alias the very node of its anchor, so a small file can describe an
enormous tree ("billion laughs"), a cycle (``a: &a [*a]``) or, by plain nesting, more levels
than Python can recurse. :class:`BoundedLoader` counts while it composes, so every hostile
shape is stopped at the event that crosses a limit, with that event's position.
"""

from __future__ import annotations

import yaml

__all__ = ["MAX_ALIASES", "MAX_DEPTH", "MAX_VALUES", "BoundedLoader", "LimitError"]

MAX_ALIASES = 1_000
"""Most ``*alias`` references one file may use."""
MAX_DEPTH = 100
"""Most levels of nesting, counted through aliases."""
MAX_VALUES = 100_000
"""Most keys, items and scalars, counting every copy an alias makes."""


class LimitError(Exception):
    """The document crosses one of the limits above; ``mark`` is where."""

    def __init__(self, mark: yaml.Mark, message: str) -> None:
        super().__init__(message)
        self.mark = mark
        self.message = message


class BoundedLoader(yaml.SafeLoader):
    """A ``SafeLoader`` whose composer enforces :data:`MAX_ALIASES`, :data:`MAX_DEPTH` and
    :data:`MAX_VALUES`, and refuses recursive aliases."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._aliases = 0
        self._values = 0
        # id(node) -> (values in its expanded tree, levels from it to its deepest leaf); a node
        # is entered once it is complete, so an alias to a node without an entry is recursive.
        self._shape: dict[int, tuple[int, int]] = {}

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]  # untyped in the stubs
        mark = event.start_mark
        if isinstance(event, yaml.AliasEvent):
            node = super().compose_node(parent, index)
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise LimitError(
                    mark,
                    f"more than {MAX_ALIASES:,} aliases (the limit of `*alias` references in "
                    "one file)",
                )
            shape = self._shape.get(id(node))
            if shape is None:
                raise LimitError(
                    mark,
                    f"recursive alias *{event.anchor}: it stands for a node that contains it",
                )
            self._count(shape[0], mark)
            self._check_depth(self._depth + shape[1], mark)
            return node
        self._depth += 1
        self._check_depth(self._depth, mark)
        before = self._values
        self._count(1, mark)
        node = super().compose_node(parent, index)
        if node is None:  # a non-alias event always composes one
            raise TypeError(f"YAML event at {mark} composed no node")
        self._depth -= 1
        self._shape[id(node)] = (self._values - before, 1 + self._child_height(node))
        return node

    def _child_height(self, node: yaml.Node) -> int:
        if isinstance(node, yaml.SequenceNode):
            children: list[yaml.Node] = node.value
        elif isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        else:
            return 0
        return max((self._shape[id(child)][1] for child in children), default=0)

    def _count(self, values: int, mark: yaml.Mark) -> None:
        self._values += values
        if self._values > MAX_VALUES:
            raise LimitError(
                mark,
                f"more than the limit of {MAX_VALUES:,} values (keys, list items and scalars; an "
                "alias counts as all the values it stands for)",
            )

    @staticmethod
    def _check_depth(depth: int, mark: yaml.Mark) -> None:
        if depth > MAX_DEPTH:
            raise LimitError(
                mark,
                f"nested deeper than the limit of {MAX_DEPTH} levels (an alias counts as the "
                "levels it stands for)",
            )
