/**
 * The node types the workspace can use, grouped by category and searchable. A type is added by
 * dragging it onto the canvas, or by activating it (Enter, Space or a click), which places it in
 * the middle of the visible canvas: the keyboard path does everything the mouse path does.
 */
import { useId, useState } from "react";
import type { DragEvent } from "react";

import type { NodeType } from "../api/workflows";

/** The drag-and-drop format that carries a node type name. */
export const NODE_TYPE_MIME = "application/x-qo-node-type";

/** Props of `Palette`. */
export interface PaletteProps {
  types: readonly NodeType[];
  categories: readonly string[];
  /** False for viewers: items are shown but cannot be added. */
  editable: boolean;
  onAdd: (type: string) => void;
}

/** The types of `types` matching `query` (type name, category or description), by category. */
export function groupTypes(
  types: readonly NodeType[],
  categories: readonly string[],
  query: string,
): [string, NodeType[]][] {
  const q = query.trim().toLowerCase();
  const matches = types.filter(
    (t) =>
      !q ||
      t.type.toLowerCase().includes(q) ||
      t.category.toLowerCase().includes(q) ||
      t.description.toLowerCase().includes(q),
  );
  // Known categories in the server's order, then any an agent registered.
  const order = [
    ...categories,
    ...matches.map((t) => t.category).filter((c) => !categories.includes(c)),
  ];
  const groups: [string, NodeType[]][] = [];
  for (const category of new Set(order)) {
    const items = matches.filter((t) => t.category === category);
    if (items.length) groups.push([category, items]);
  }
  return groups;
}

/** The palette of node types. */
export function Palette({ types, categories, editable, onAdd }: PaletteProps) {
  const [query, setQuery] = useState("");
  const base = useId();
  const groups = groupTypes(types, categories, query);
  const onDragStart = (event: DragEvent, type: string) => {
    event.dataTransfer.setData(NODE_TYPE_MIME, type);
    event.dataTransfer.setData("text/plain", type);
    event.dataTransfer.effectAllowed = "copy";
  };
  return (
    <section className="qo-palette" aria-labelledby={`${base}-title`}>
      <h2 id={`${base}-title`} className="qo-panel-title">
        Node types
      </h2>
      <label className="qo-field">
        <span>Search node types</span>
        <input
          type="search"
          value={query}
          onChange={(e) => {
            setQuery(e.target.value);
          }}
        />
      </label>
      {editable ? (
        <p className="qo-hint">Drag a type onto the canvas, or press Enter on it to add it.</p>
      ) : null}
      {types.length === 0 ? (
        <p className="qo-hint">The server lists no node types for this workspace.</p>
      ) : groups.length === 0 ? (
        <p className="qo-hint" role="status">
          No node type matches “{query}”.
        </p>
      ) : null}
      {groups.map(([category, items]) => (
        <section key={category} className="qo-palette-group">
          <h3 id={`${base}-${category}`}>{category}</h3>
          <ul aria-labelledby={`${base}-${category}`}>
            {items.map((t) => {
              const descId = `${base}-${t.type}-desc`;
              return (
                <li key={t.type}>
                  <button
                    type="button"
                    className="qo-palette-item"
                    draggable={editable}
                    disabled={!editable}
                    data-node-type={t.type}
                    aria-describedby={t.description ? descId : undefined}
                    onDragStart={(e) => {
                      onDragStart(e, t.type);
                    }}
                    onClick={() => {
                      onAdd(t.type);
                    }}
                  >
                    {t.type}
                  </button>
                  {t.description ? (
                    <p id={descId} className="qo-palette-desc" title={t.description}>
                      {t.description}
                    </p>
                  ) : null}
                </li>
              );
            })}
          </ul>
        </section>
      ))}
    </section>
  );
}
