/** A labelled JSON text box for one object field of the spec, with parse errors inline. */
import { useEffect, useId, useState } from "react";

/** Props of `JsonBox`. */
export interface JsonBoxProps {
  label: string;
  help?: string;
  value: Record<string, unknown> | undefined;
  /** Called with the parsed object (or `undefined` for an empty box) when the text is valid. */
  onChange: (value: Record<string, unknown> | undefined) => void;
  /** Problems the server found at this field. */
  problems?: string[];
}

function pretty(value: unknown): string {
  return value === undefined ? "" : JSON.stringify(value, null, 2);
}

/** Edit an object as JSON; invalid text stays in the box, with the reason below it. */
export function JsonBox({ label, help, value, onChange, problems = [] }: JsonBoxProps) {
  const id = useId();
  const [text, setText] = useState(pretty(value));
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    // Follow undo/redo and imports, unless the box already says the same thing.
    setText((current) => {
      try {
        if (JSON.stringify(JSON.parse(current)) === JSON.stringify(value)) return current;
      } catch {
        // The box holds unfinished text; the value changed elsewhere, so show the value.
      }
      return pretty(value);
    });
    setError(null);
  }, [value]);
  const messages = [...(error ? [error] : []), ...problems];
  return (
    <div className="qo-field">
      <label htmlFor={id}>{label} (JSON)</label>
      <textarea
        id={id}
        className="qo-mono"
        rows={Math.min(14, Math.max(3, text.split("\n").length))}
        spellCheck={false}
        value={text}
        aria-invalid={messages.length > 0 || undefined}
        aria-describedby={
          [help ? `${id}-help` : "", messages.length ? `${id}-err` : ""]
            .filter(Boolean)
            .join(" ") || undefined
        }
        onChange={(e) => {
          const next = e.target.value;
          setText(next);
          if (next.trim() === "") {
            setError(null);
            onChange(undefined);
            return;
          }
          try {
            const parsed: unknown = JSON.parse(next);
            if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
              setError("Must be a JSON object ({ … }).");
              return;
            }
            setError(null);
            onChange(parsed as Record<string, unknown>);
          } catch (reason) {
            setError(
              `Not valid JSON: ${reason instanceof Error ? reason.message : String(reason)}`,
            );
          }
        }}
      />
      {help ? (
        <p id={`${id}-help`} className="qo-hint">
          {help}
        </p>
      ) : null}
      {messages.length ? (
        <p id={`${id}-err`} className="field-error">
          <span aria-hidden="true">⚠ </span>
          {messages.join(" ")}
        </p>
      ) : null}
    </div>
  );
}
