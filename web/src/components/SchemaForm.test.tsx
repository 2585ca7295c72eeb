import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { useState } from "react";
import { afterEach, describe, expect, it } from "vitest";

import { SchemaForm } from "./SchemaForm";

const schema = {
  type: "object",
  required: ["url"],
  properties: {
    url: { type: "string", description: "Where to send the request." },
    method: { type: "string", enum: ["GET", "POST"] },
    timeout: { type: "number", minimum: 1, maximum: 60 },
    verbose: { type: "boolean" },
    tags: { type: "array", items: { type: "string" } },
    headers: { type: "object" },
  },
};

let last: Record<string, unknown> = {};

function Harness(props: { errors?: Record<string, string>; initial?: Record<string, unknown> }) {
  const [value, setValue] = useState<Record<string, unknown>>(props.initial ?? {});
  return (
    <SchemaForm
      schema={schema}
      value={value}
      errors={props.errors}
      idPrefix="t"
      onChange={(next) => {
        last = next;
        setValue(next);
      }}
    />
  );
}

afterEach(cleanup);

describe("SchemaForm", () => {
  it("labels every field and links help text", () => {
    render(<Harness />);
    const url = screen.getByLabelText(/^url/);
    expect(url.getAttribute("aria-required")).toBe("true");
    const help = document.getElementById(url.getAttribute("aria-describedby")?.split(" ")[0] ?? "");
    expect(help?.textContent).toBe("Where to send the request.");
    expect(screen.getByLabelText("method").tagName).toBe("SELECT");
    expect(screen.getByLabelText("verbose").getAttribute("type")).toBe("checkbox");
    expect(screen.getByLabelText("headers (JSON)").tagName).toBe("TEXTAREA");
    // The required field is empty: the message is shown inline, with text, not colour alone.
    expect(screen.getByText("Required.")).toBeTruthy();
  });

  it("edits scalars into the value with their types", () => {
    render(<Harness />);
    fireEvent.change(screen.getByLabelText(/^url/), { target: { value: "https://x" } });
    fireEvent.change(screen.getByLabelText("method"), { target: { value: "1" } });
    fireEvent.change(screen.getByLabelText("timeout"), { target: { value: "5" } });
    fireEvent.click(screen.getByLabelText("verbose"));
    expect(last).toEqual({ url: "https://x", method: "POST", timeout: 5, verbose: true });
    fireEvent.change(screen.getByLabelText("timeout"), { target: { value: "" } });
    expect(last).toEqual({ url: "https://x", method: "POST", verbose: true });
  });

  it("shows range and parse errors inline", () => {
    render(<Harness initial={{ url: "u" }} />);
    const timeout = screen.getByLabelText("timeout");
    fireEvent.change(timeout, { target: { value: "99" } });
    expect(screen.getByText("Must be ≤ 60.")).toBeTruthy();
    expect(timeout.getAttribute("aria-invalid")).toBe("true");
    fireEvent.change(timeout, { target: { value: "abc" } });
    expect(screen.getByText("Must be a number.")).toBeTruthy();
    const headers = screen.getByLabelText("headers (JSON)");
    fireEvent.change(headers, { target: { value: "{" } });
    expect(screen.getByText(/Not valid JSON/)).toBeTruthy();
    fireEvent.change(headers, { target: { value: '{"a": "b"}' } });
    expect(last.headers).toEqual({ a: "b" });
  });

  it("adds and removes list items", () => {
    render(<Harness initial={{ url: "u" }} />);
    fireEvent.click(screen.getByRole("button", { name: "Add tags item" }));
    fireEvent.change(screen.getByLabelText("tags item 1"), { target: { value: "a" } });
    expect(last.tags).toEqual(["a"]);
    fireEvent.click(screen.getByRole("button", { name: "Remove tags item 1" }));
    expect(last.tags).toBeUndefined();
  });

  it("shows the caller's errors by path", () => {
    render(<Harness initial={{ url: "u" }} errors={{ "/url": "Unreachable host." }} />);
    expect(screen.getByText("Unreachable host.")).toBeTruthy();
  });
});
