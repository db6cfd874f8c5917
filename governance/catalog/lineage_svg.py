"""Draw a lineage graph as an SVG picture: nodes in columns by depth (longest path from a source), arrows between."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.utils.html import escape

from governance.catalog import hooks

NODE_W, NODE_H, GAP_X, GAP_Y, PAD = 190, 54, 80, 24, 20
COLORS = {"dataset_version": "#e8f0fe", "model_version": "#e6f4ea"}


def _layers(graph: dict[str, Any]) -> dict[str, int]:
    keys = [n["key"] for n in graph["nodes"]]
    parents: dict[str, list[str]] = defaultdict(list)
    for edge in graph["edges"]:
        if edge["source"] != edge["target"]:
            parents[edge["target"]].append(edge["source"])
    depth: dict[str, int] = {}

    def visit(key: str, trail: frozenset[str]) -> int:
        if key in depth:
            return depth[key]
        if key in trail:  # a cycle cannot happen for immutable versions; guard anyway
            return 0
        value = 1 + max((visit(p, trail | {key}) for p in parents.get(key, [])), default=-1)
        depth[key] = value
        return value

    for key in keys:
        visit(key, frozenset())
    return depth


def _part(edge: dict[str, Any]) -> str:
    part = (edge.get("params") or {}).get("part")
    return f" #{part + 1}" if isinstance(part, int) else ""


def render_lineage_svg(graph: dict[str, Any], *, focus: str | None = None) -> str:
    depth = _layers(graph)
    columns: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for node in graph["nodes"]:
        columns[depth.get(node["key"], 0)].append(node)
    pos: dict[str, tuple[int, int]] = {}
    for layer, nodes in columns.items():
        for row, node in enumerate(nodes):
            pos[node["key"]] = (PAD + layer * (NODE_W + GAP_X), PAD + row * (NODE_H + GAP_Y))
    width = PAD * 2 + (max(columns, default=0) + 1) * (NODE_W + GAP_X) - GAP_X
    height = PAD * 2 + max((len(v) for v in columns.values()), default=1) * (NODE_H + GAP_Y) - GAP_Y
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="lineage" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="lineage graph">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" '
        'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#555"/></marker></defs>',
    ]
    for edge in graph["edges"]:
        if edge["source"] not in pos or edge["target"] not in pos:
            continue
        (x1, y1), (x2, y2) = pos[edge["source"]], pos[edge["target"]]
        sx, sy, tx, ty = x1 + NODE_W, y1 + NODE_H / 2, x2, y2 + NODE_H / 2
        mx = (sx + tx) / 2
        parts.append(
            f'<path class="edge" d="M {sx} {sy} C {mx} {sy}, {mx} {ty}, {tx} {ty}" fill="none" '
            f'stroke="#555" stroke-width="1.5" marker-end="url(#arrow)"/>'
        )
        parts.append(
            f'<text x="{mx}" y="{(sy + ty) / 2 - 4}" font-size="11" text-anchor="middle" fill="#333">'
            f"{escape(edge['operation'])}{_part(edge)}</text>"
        )
    for node in graph["nodes"]:
        x, y = pos[node["key"]]
        stroke = "#d93025" if node["key"] == focus else "#5f6368"
        url = hooks.node_url(node["type"], node["id"])
        label = str(node["label"])
        short = label if len(label) <= 26 else label[:25] + "…"
        sub = node["type"].replace("_", " ")
        if node.get("rows") is not None:
            sub += f" · {node['rows']:,} rows"
        body = (
            f'<rect x="{x}" y="{y}" width="{NODE_W}" height="{NODE_H}" rx="8" '
            f'fill="{COLORS.get(node["type"], "#eee")}" '
            f'stroke="{stroke}" stroke-width="{2.5 if node["key"] == focus else 1}"/>'
            f'<text x="{x + 10}" y="{y + 22}" font-size="13" font-weight="600">{escape(short)}</text>'
            f'<text x="{x + 10}" y="{y + 40}" font-size="11" fill="#555">{escape(sub)}</text>'
            f"<title>{escape(label)}</title>"
        )
        parts.append(
            f'<a href="{escape(url)}" class="node" data-key="{escape(node["key"])}">{body}</a>'
            if url
            else f'<g class="node" data-key="{escape(node["key"])}">{body}</g>'
        )
    parts.append("</svg>")
    return "".join(parts)
