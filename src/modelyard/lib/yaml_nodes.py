"""Reading sections of modelyard.yaml as YAML nodes, so every error can name its line.

Shared by the sections other apps add to the file (`features:`, `monitors:`).
"""

from __future__ import annotations

from yaml.nodes import MappingNode, Node, ScalarNode


def line(node: Node) -> str:
    return f"line {node.start_mark.line + 1}"


def mapping(node: Node, what: str, problems: list[str]) -> dict[str, Node]:
    """The node's `key: value` pairs; a problem naming its line when it is no mapping."""
    if not isinstance(node, MappingNode):
        problems.append(f"{line(node)}: {what} must be a mapping of `key: value` lines.")
        return {}
    return {str(key.value): value for key, value in node.value}


def scalar(node: Node | None) -> str:
    return str(node.value).strip() if isinstance(node, ScalarNode) else ""
