"""Line numbers for YAML paths, so file errors point at the line a person has to fix."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import yaml


def line_of(node: yaml.Node | None, path: Sequence[Any]) -> int:
    """The 1-based line of the node at `path`, or of its nearest existing ancestor."""
    line = node.start_mark.line + 1 if node else 1
    for key in path:
        if isinstance(node, yaml.MappingNode):
            pair = next(((k, v) for k, v in node.value if k.value == str(key)), None)
            if pair is None:
                break
            line, node = pair[0].start_mark.line + 1, pair[1]  # the key's line: what people edit
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
            line = node.start_mark.line + 1
        else:
            break
    return line
