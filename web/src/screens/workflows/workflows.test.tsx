import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { MemoryRouter, Route, Routes } from "react-router";
import { afterEach, describe, expect, it, vi } from "vitest";

import Versions from "./Versions";
import WorkflowsList from "./WorkflowsList";

const permissions = { write: true };

vi.mock("../../app/session", () => ({
  useSession: () => ({ can: (p: string) => p === "workflows:write" && permissions.write }),
}));

const spec = (timeout: number) => ({
  name: "etl",
  nodes: [{ id: "a", type: "core.noop", timeout }],
});

vi.mock("../../api/workflows", () => ({
  listWorkflows: () =>
    Promise.resolve({
      items: [
        {
          id: "w1",
          name: "etl",
          description: "Nightly load",
          latest_version: 2,
          created_at: "2026-01-01T00:00:00Z",
          updated_at: "2026-01-02T00:00:00Z",
          nodes: 1,
        },
      ],
      next_cursor: null,
    }),
  getWorkflow: () =>
    Promise.resolve({
      id: "w1",
      name: "etl",
      description: "",
      latest_version: 2,
      created_at: "",
      updated_at: "",
      spec: spec(9),
    }),
  listVersions: () =>
    Promise.resolve({
      items: [
        {
          id: "v2",
          workflow_id: "w1",
          workflow_name: "etl",
          number: 2,
          spec: spec(5),
          created_at: "2026-01-02T00:00:00Z",
        },
        {
          id: "v1",
          workflow_id: "w1",
          workflow_name: "etl",
          number: 1,
          spec: spec(3),
          created_at: "2026-01-01T00:00:00Z",
        },
      ],
      next_cursor: null,
    }),
}));

afterEach(cleanup);

function renderAt(path: string) {
  render(
    <MemoryRouter initialEntries={[path]}>
      <Routes>
        <Route path="/workflows" element={<WorkflowsList />} />
        <Route path="/workflows/:ref/versions" element={<Versions />} />
      </Routes>
    </MemoryRouter>,
  );
}

describe("WorkflowsList", () => {
  it("lists workflows with links to the builder and versions", async () => {
    permissions.write = true;
    renderAt("/workflows");
    expect((await screen.findByRole("link", { name: "etl" })).getAttribute("href")).toBe(
      "/workflows/etl",
    );
    expect(screen.getByRole("link", { name: "Versions of etl" })).toBeTruthy();
    expect(screen.getByText("v2")).toBeTruthy();
    expect(screen.getByRole("button", { name: "New workflow" })).toBeTruthy();
    expect(screen.getByLabelText(/Search workflows/)).toBeTruthy();
  });

  it("hides New workflow and Import from viewers", async () => {
    permissions.write = false;
    renderAt("/workflows");
    await screen.findByRole("link", { name: "etl" });
    expect(screen.queryByRole("button", { name: "New workflow" })).toBeNull();
    expect(screen.queryByRole("button", { name: "Import" })).toBeNull();
  });
});

describe("Versions", () => {
  it("compares two versions with +/− markers in the text", async () => {
    renderAt("/workflows/etl/versions");
    expect(await screen.findByText("v2")).toBeTruthy();
    fireEvent.click(screen.getByRole("button", { name: "Compare" }));
    expect(screen.getByRole("heading", { name: "Version 1 → Version 2" })).toBeTruthy();
    expect(screen.getByText(/1 line added \(\+\), 1 line removed/)).toBeTruthy();
    expect(screen.getByText("− timeout: 3", { exact: false })).toBeTruthy();
    expect(screen.getByText("+ timeout: 5", { exact: false })).toBeTruthy();
  });
});
