import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { MemoryRouter, Route, Routes } from "react-router";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";

import type { NodeType } from "../api/workflows";
import { groupTypes } from "./Palette";

const permissions = { write: true };

vi.mock("../app/session", () => ({
  useSession: () => ({ can: (p: string) => p === "workflows:write" && permissions.write }),
}));

const transform: NodeType = {
  type: "specialized.transform",
  category: "specialized",
  description: "Reshapes data.",
  params_schema: {
    type: "object",
    required: ["expression"],
    properties: { expression: { type: "string" } },
  },
  executor: "agent",
  default_trigger_rule: null,
  builtin: true,
};
const noop: NodeType = {
  ...transform,
  type: "core.noop",
  category: "core",
  description: "Does nothing.",
  params_schema: {},
};

vi.mock("../api/workflows", () => ({
  listNodeTypes: () =>
    Promise.resolve({ items: [noop, transform], categories: ["core", "specialized"] }),
  getWorkflow: () =>
    Promise.resolve({
      id: "w1",
      name: "demo",
      description: "",
      latest_version: 2,
      created_at: "",
      updated_at: "",
      spec: {
        name: "demo",
        nodes: [
          { id: "a", type: "core.noop" },
          { id: "b", type: "specialized.transform", params: { expression: "x" } },
        ],
        connections: [{ from: "a", to: "b" }],
      },
    }),
  createWorkflow: vi.fn(),
  updateWorkflow: vi.fn(),
  validateSpec: vi.fn(),
  deployWorkflow: vi.fn(),
  specErrorsOf: () => [],
}));

beforeAll(() => {
  // jsdom has no layout: React Flow needs these to mount.
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- absent in jsdom
  globalThis.ResizeObserver ??= class {
    observe() {
      return undefined;
    }
    unobserve() {
      return undefined;
    }
    disconnect() {
      return undefined;
    }
  } as unknown as typeof ResizeObserver;
});

afterEach(cleanup);

async function renderBuilder(path: string) {
  const { default: Builder } = await import("./Builder");
  render(
    <MemoryRouter initialEntries={[path]}>
      <Routes>
        <Route path="/workflows/new" element={<Builder />} />
        <Route path="/workflows/:ref" element={<Builder />} />
      </Routes>
    </MemoryRouter>,
  );
}

describe("groupTypes", () => {
  it("groups by category in the server's order and filters by the query", () => {
    const custom = { ...noop, type: "acme.thing", category: "acme" };
    const groups = groupTypes([transform, noop, custom], ["core", "specialized"], "");
    expect(groups.map(([c]) => c)).toEqual(["core", "specialized", "acme"]);
    expect(groupTypes([transform, noop], ["core", "specialized"], "reshape")).toEqual([
      ["specialized", [transform]],
    ]);
  });
});

describe("Builder", () => {
  it("loads a workflow and draws its nodes with ids and types", async () => {
    permissions.write = true;
    await renderBuilder("/workflows/demo");
    expect(await screen.findByRole("heading", { name: "demo" })).toBeTruthy();
    expect(screen.getByRole("region", { name: "Workflow canvas" })).toBeTruthy();
    expect(screen.getByRole("button", { name: "Deploy" })).toBeTruthy();
    expect(screen.getByText(/All changes saved/)).toBeTruthy();
  });

  it("adds a node from the palette by keyboard activation and can undo it", async () => {
    permissions.write = true;
    await renderBuilder("/workflows/new");
    const item = await screen.findByRole("button", { name: "specialized.transform" });
    fireEvent.click(item);
    expect(await screen.findByRole("heading", { name: "Node transform" })).toBeTruthy();
    // The params form comes from the type's schema, with the required field flagged.
    expect(screen.getByLabelText(/^expression/)).toBeTruthy();
    fireEvent.click(screen.getByRole("button", { name: /Undo/ }));
    expect(screen.queryByRole("heading", { name: "Node transform" })).toBeNull();
  });

  it("shows no editing actions to a viewer", async () => {
    permissions.write = false;
    await renderBuilder("/workflows/demo");
    await screen.findByRole("heading", { name: "demo" });
    expect(screen.queryByRole("button", { name: "Deploy" })).toBeNull();
    expect(screen.queryByRole("button", { name: "Save draft" })).toBeNull();
    expect(screen.queryByRole("button", { name: "Import" })).toBeNull();
    expect(screen.getByRole("button", { name: "Validate" })).toBeTruthy();
  });
});
