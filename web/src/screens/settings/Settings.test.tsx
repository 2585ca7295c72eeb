import { cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import axe from "axe-core";
import { MemoryRouter, Route, Routes } from "react-router";
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";

import * as settingsApi from "../../api/settings";
import type { ApiKey, IssuedApiKey, Member } from "../../api/settings";
import { NoticeProvider } from "../../components/Notice";
import Settings from "./Settings";

vi.mock("../../api/settings", async (importOriginal) => ({
  ...(await importOriginal<typeof import("../../api/settings")>()),
  listMembers: vi.fn(),
  addMember: vi.fn(),
  setMemberRole: vi.fn(),
  removeMember: vi.fn(),
  listApiKeys: vi.fn(),
  createApiKey: vi.fn(),
  rotateApiKey: vi.fn(),
  revokeApiKey: vi.fn(),
  listSecrets: vi.fn(),
  createSecret: vi.fn(),
  updateSecret: vi.fn(),
  deleteSecret: vi.fn(),
  listAudit: vi.fn(),
}));

const ADMIN = [
  "members:read",
  "members:write",
  "keys:read",
  "keys:write",
  "secrets:read",
  "secrets:write",
  "audit:read",
];
let session = { role: "admin", permissions: new Set(ADMIN) };
vi.mock("../../app/session", () => ({
  useSession: () => ({
    me: { user: { id: "u-me", email: "me@example.com" }, role: session.role },
    workspaceId: "ws1",
    can: (p: string) => session.permissions.has(p),
  }),
}));

const api = vi.mocked(settingsApi);
const t = "2026-12-06T01:00:00+00:00";
const alice: Member = {
  user_id: "u-a",
  email: "a@example.com",
  name: "Alice",
  role: "viewer",
  created_at: t,
};
const me: Member = {
  user_id: "u-me",
  email: "me@example.com",
  name: "",
  role: "admin",
  created_at: t,
};
const key: ApiKey = {
  id: "k1",
  name: "ci",
  prefix: "qo_k_ab12",
  role: "operator",
  workspace_id: "ws1",
  created_by: "u-me",
  created_at: t,
  expires_at: null,
  last_used_at: null,
};

beforeAll(() => {
  // jsdom lacks the modal dialog API.
  Object.assign(HTMLDialogElement.prototype, {
    showModal(this: HTMLDialogElement) {
      this.open = true;
    },
    close(this: HTMLDialogElement) {
      this.open = false;
    },
  });
});

beforeEach(() => {
  session = { role: "admin", permissions: new Set(ADMIN) };
  vi.clearAllMocks();
  api.listMembers.mockResolvedValue({ items: [me, alice], next_cursor: null });
  api.listApiKeys.mockResolvedValue({ items: [key], next_cursor: null });
  api.listSecrets.mockResolvedValue({
    items: [{ name: "DB_PASSWORD", created_at: t, updated_at: t, last_used_at: null }],
    next_cursor: null,
  });
  api.listAudit.mockResolvedValue({
    items: [
      {
        seq: 1,
        id: "e1",
        at: t,
        workspace_id: "ws1",
        actor_type: "user",
        actor_id: "u-me",
        actor_label: "me@example.com",
        action: "api_key.create",
        target_type: "api_key",
        target_id: "k1",
        outcome: "success",
        source_ip: "10.0.0.7",
        user_agent: "ua",
        request_id: "r1",
        digest: null,
        details: { name: "ci" },
        prev_hash: null,
        hash: "h",
      },
    ],
    next_cursor: "c2",
  });
});
afterEach(cleanup);

function open(path: string) {
  return render(
    <MemoryRouter initialEntries={[path]}>
      <NoticeProvider>
        <Routes>
          <Route path="/settings/*" element={<Settings />} />
        </Routes>
      </NoticeProvider>
    </MemoryRouter>,
  );
}

describe("Settings", () => {
  it("opens on Members and links every section", async () => {
    open("/settings");
    for (const name of ["Members", "API keys", "Secrets", "Audit log"]) {
      expect(screen.getByRole("link", { name })).toBeTruthy();
    }
    expect(await screen.findByTestId("member-u-a")).toBeTruthy();
    expect(screen.getByRole("link", { name: "Members" }).getAttribute("aria-current")).toBe("page");
  });

  it("has no axe violations on any tab", async () => {
    for (const [path, testId] of [
      ["/settings/members", "member-u-a"],
      ["/settings/api-keys", "api-key-k1"],
      ["/settings/secrets", "secret-DB_PASSWORD"],
      ["/settings/audit", "audit-e1"],
    ] as const) {
      const { container, unmount } = open(path);
      await screen.findByTestId(testId);
      const result = await axe.run(container, { rules: { "color-contrast": { enabled: false } } });
      expect(
        result.violations.map((v) => `${path} ${v.id}: ${v.nodes.map((n) => n.html).join(" | ")}`),
      ).toEqual([]);
      unmount();
    }
  });

  it("changes a role, adds and removes members", async () => {
    api.setMemberRole.mockResolvedValue({ ...alice, role: "editor" });
    api.addMember.mockResolvedValue({ ...alice, user_id: "u-b", email: "b@example.com" });
    api.removeMember.mockResolvedValue();
    open("/settings/members");
    await screen.findByTestId("member-u-a");
    // One's own role is not offered for change (no accidental lock-out).
    expect(screen.queryByLabelText("Role of me@example.com")).toBeNull();
    fireEvent.change(screen.getByLabelText("Role of a@example.com"), {
      target: { value: "editor" },
    });
    await waitFor(() => {
      expect(api.setMemberRole).toHaveBeenCalledWith("ws1", "u-a", "editor");
    });
    fireEvent.change(screen.getByLabelText("E-mail"), { target: { value: "b@example.com" } });
    fireEvent.click(screen.getByRole("button", { name: "Add member" }));
    await waitFor(() => {
      expect(api.addMember).toHaveBeenCalledWith("ws1", {
        email: "b@example.com",
        role: "viewer",
        name: "",
        password: null,
      });
    });
    fireEvent.click(screen.getByRole("button", { name: "Remove a@example.com" }));
    fireEvent.click(within(screen.getByRole("dialog")).getByRole("button", { name: "Remove" }));
    await waitFor(() => {
      expect(api.removeMember).toHaveBeenCalledWith("ws1", "u-a");
    });
  });

  it("shows a created key once, with Copy, and forgets it when closed", async () => {
    const issued: IssuedApiKey = { ...key, id: "k2", name: "deploy", key: "qo_k_secretvalue" };
    api.createApiKey.mockResolvedValue(issued);
    open("/settings/api-keys");
    await screen.findByTestId("api-key-k1");
    fireEvent.change(screen.getByLabelText("Name"), { target: { value: "deploy" } });
    fireEvent.click(screen.getByRole("button", { name: "Create key" }));
    const input = await screen.findByLabelText("New API key");
    expect((input as HTMLInputElement).value).toBe("qo_k_secretvalue");
    expect(screen.getByRole("button", { name: "Copy" })).toBeTruthy();
    expect(screen.getByText(/shown only this once/)).toBeTruthy();
    fireEvent.click(screen.getByRole("button", { name: "I have stored the key" }));
    expect(screen.queryByDisplayValue("qo_k_secretvalue")).toBeNull();
  });

  it("rotates after confirmation and mentions the grace period", async () => {
    api.rotateApiKey.mockResolvedValue({ ...key, id: "k3", key: "qo_k_rotated" });
    open("/settings/api-keys");
    const row = await screen.findByTestId("api-key-k1");
    fireEvent.click(within(row).getByRole("button", { name: "Rotate" }));
    const confirm = screen.getByRole("dialog", { name: "Rotate ci?" });
    fireEvent.click(within(confirm).getByRole("button", { name: "Rotate" }));
    await waitFor(() => {
      expect(api.rotateApiKey).toHaveBeenCalledWith("k1", null);
    });
    expect(await screen.findByDisplayValue("qo_k_rotated")).toBeTruthy();
    expect(screen.getByText(/old key keeps working for the grace period/)).toBeTruthy();
  });

  it("revokes after confirmation", async () => {
    api.revokeApiKey.mockResolvedValue();
    open("/settings/api-keys");
    const row = await screen.findByTestId("api-key-k1");
    fireEvent.click(within(row).getByRole("button", { name: "Revoke" }));
    const confirm = screen.getByRole("dialog", { name: "Revoke ci?" });
    fireEvent.click(within(confirm).getByRole("button", { name: "Revoke" }));
    await waitFor(() => {
      expect(api.revokeApiKey).toHaveBeenCalledWith("k1");
    });
  });

  it("adds a secret with a password input and never shows values", async () => {
    api.createSecret.mockResolvedValue({
      name: "NEW_ONE",
      created_at: t,
      updated_at: t,
      last_used_at: null,
    });
    open("/settings/secrets");
    await screen.findByTestId("secret-DB_PASSWORD");
    const value = screen.getByLabelText<HTMLInputElement>("Value");
    expect(value.type).toBe("password");
    fireEvent.change(screen.getByLabelText("Name"), { target: { value: "new_one" } });
    fireEvent.change(value, { target: { value: "hunter2" } });
    fireEvent.click(screen.getByRole("button", { name: "Add secret" }));
    await waitFor(() => {
      expect(api.createSecret).toHaveBeenCalledWith("NEW_ONE", "hunter2");
    });
    // Cleared once the call has answered.
    await waitFor(() => {
      expect(value.value).toBe("");
    });
  });

  it("filters and pages the audit log, with details on demand", async () => {
    open("/settings/audit");
    const row = await screen.findByTestId("audit-e1");
    expect(within(row).getByText("10.0.0.7")).toBeTruthy();
    expect(within(row).getByText("Details")).toBeTruthy();
    fireEvent.change(screen.getByLabelText("Action"), { target: { value: "member.add" } });
    fireEvent.click(screen.getByRole("button", { name: "Apply filters" }));
    await waitFor(() => {
      expect(api.listAudit).toHaveBeenLastCalledWith(
        expect.objectContaining({ action: "member.add" }),
        null,
      );
    });
    fireEvent.click(screen.getByRole("button", { name: /Next/ }));
    await waitFor(() => {
      expect(api.listAudit).toHaveBeenLastCalledWith(
        expect.objectContaining({ action: "member.add" }),
        "c2",
      );
    });
  });

  it("pages members, API keys and secrets with the server's cursors", async () => {
    const bob: Member = { ...alice, user_id: "u-b", email: "b@example.com", name: "Bob" };
    api.listMembers.mockImplementation((_ws, cursor) =>
      Promise.resolve(
        cursor === "m2"
          ? { items: [bob], next_cursor: null }
          : { items: [me, alice], next_cursor: "m2" },
      ),
    );
    open("/settings/members");
    await screen.findByTestId("member-u-a");
    expect(api.listMembers).toHaveBeenLastCalledWith("ws1", null);
    expect(screen.getByText("Page 1")).toBeTruthy();
    fireEvent.click(screen.getByRole("button", { name: /Next/ }));
    await screen.findByTestId("member-u-b");
    expect(api.listMembers).toHaveBeenLastCalledWith("ws1", "m2");
    expect(screen.queryByTestId("member-u-a")).toBeNull();
    expect(screen.getByRole<HTMLButtonElement>("button", { name: /Next/ }).disabled).toBe(true);
    fireEvent.click(screen.getByRole("button", { name: /First/ }));
    await screen.findByTestId("member-u-a");
    expect(api.listMembers).toHaveBeenLastCalledWith("ws1", null);
    cleanup();

    api.listApiKeys.mockImplementation((cursor) =>
      Promise.resolve(
        cursor === "k2"
          ? { items: [{ ...key, id: "k2", name: "older" }], next_cursor: null }
          : { items: [key], next_cursor: "k2" },
      ),
    );
    open("/settings/api-keys");
    await screen.findByTestId("api-key-k1");
    fireEvent.click(screen.getByRole("button", { name: /Next/ }));
    await screen.findByTestId("api-key-k2");
    expect(api.listApiKeys).toHaveBeenLastCalledWith("k2");
    cleanup();

    const secret = { created_at: t, updated_at: t, last_used_at: null };
    api.listSecrets.mockImplementation((cursor) =>
      Promise.resolve(
        cursor === "s2"
          ? { items: [{ ...secret, name: "TOKEN" }], next_cursor: null }
          : { items: [{ ...secret, name: "DB_PASSWORD" }], next_cursor: "s2" },
      ),
    );
    open("/settings/secrets");
    await screen.findByTestId("secret-DB_PASSWORD");
    fireEvent.click(screen.getByRole("button", { name: /Next/ }));
    await screen.findByTestId("secret-TOKEN");
    expect(api.listSecrets).toHaveBeenLastCalledWith("s2");
  });

  it("shows no pager when everything fits on one page", async () => {
    open("/settings/secrets");
    await screen.findByTestId("secret-DB_PASSWORD");
    expect(screen.queryByRole("navigation", { name: "Pagination" })).toBeNull();
  });

  it("tells a viewer which role is missing instead of failing", async () => {
    session = { role: "viewer", permissions: new Set(["members:read"]) };
    open("/settings/api-keys");
    expect(screen.getByText(/You need the admin role to see or manage API keys/)).toBeTruthy();
    expect(api.listApiKeys).not.toHaveBeenCalled();
    cleanup();
    open("/settings/members");
    await screen.findByTestId("member-u-a");
    expect(screen.queryByRole("button", { name: "Add member" })).toBeNull();
    expect(screen.getByText(/You need the admin role to add members/)).toBeTruthy();
  });
});
