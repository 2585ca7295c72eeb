/**
 * A form generated from a JSON Schema: one labelled field per property, help text from
 * `description`, and inline messages from `validateAgainstSchema` merged with the caller's
 * (server) errors. Shapes a widget cannot express (oneOf, free maps, lists of objects) fall back
 * to a JSON text box, so every schema can still be filled in.
 */
import { useEffect, useState } from "react";
import type { ReactNode } from "react";

import {
  childPath,
  errorsUnder,
  fieldKind,
  parseJsonInput,
  parseNumberInput,
  pathId,
  propertiesOf,
  requiredOf,
  schemaType,
  validateAgainstSchema,
  withKey,
} from "../lib/schemaForm";
import type { Schema } from "../lib/schemaForm";
import "./SchemaForm.css";

/** Props of `SchemaForm`: a JSON Schema object, the current value and where errors are. */
export interface SchemaFormProps {
  /** The JSON Schema of the value (an object schema). */
  schema: Record<string, unknown>;
  /** The current value. */
  value: Record<string, unknown>;
  /** Called with the whole new value on every edit. */
  onChange: (value: Record<string, unknown>) => void;
  /** Messages by JSON Pointer-like path ("" for the whole value, "/url", "/headers/x"). */
  errors?: Record<string, string>;
  /** Prefix for the ids of the generated fields (several forms may share a page). */
  idPrefix: string;
  /**
   * Optional: values may be `{{ … }}` templates the server renders later (node params), so a
   * number field also takes a template and templates are not reported as the wrong type.
   */
  allowTemplates?: boolean;
}

interface FieldProps {
  schema: Schema;
  label: string;
  path: string;
  value: unknown;
  required: boolean;
  onChange: (value: unknown) => void;
  errors: Record<string, string>;
  idPrefix: string;
  allowTemplates: boolean;
}

function isTemplate(value: unknown): value is string {
  return typeof value === "string" && /\{\{|\{%/.test(value);
}

/** Help and error paragraphs of a field, and the ids its control must point at. */
function useFieldText(props: FieldProps, extraErrors: string[] = []) {
  const id = `${props.idPrefix}${pathId(props.path)}`;
  const description = typeof props.schema.description === "string" ? props.schema.description : "";
  const defaultText =
    props.schema.default !== undefined ? `Default: ${JSON.stringify(props.schema.default)}.` : "";
  const { minimum, maximum } = props.schema;
  // The range is said in words: a text box has no ARIA attribute for it.
  const range =
    typeof minimum === "number" && typeof maximum === "number"
      ? `From ${minimum} to ${maximum}.`
      : typeof minimum === "number"
        ? `At least ${minimum}.`
        : typeof maximum === "number"
          ? `At most ${maximum}.`
          : "";
  const help = [description, range, defaultText].filter(Boolean).join(" ");
  const own = props.errors[props.path];
  const messages = [...(own ? [own] : []), ...extraErrors];
  const helpId = `${id}-help`;
  const errorId = `${id}-error`;
  const describedBy =
    [help ? helpId : "", messages.length ? errorId : ""].filter(Boolean).join(" ") || undefined;
  const text = (
    <>
      {help ? (
        <p id={helpId} className="sf-help">
          {help}
        </p>
      ) : null}
      {messages.length ? (
        <p id={errorId} className="field-error sf-error">
          <span aria-hidden="true">⚠ </span>
          {messages.join(" ")}
        </p>
      ) : null}
    </>
  );
  return { id, describedBy, text, invalid: messages.length > 0 };
}

function FieldLabel({
  htmlFor,
  label,
  required,
}: {
  htmlFor: string;
  label: string;
  required: boolean;
}) {
  return (
    <label htmlFor={htmlFor} className="sf-label">
      {label}
      {required ? (
        <span className="sf-required" title="required">
          {" "}
          *<span className="sf-sr"> (required)</span>
        </span>
      ) : null}
    </label>
  );
}

function titleOf(schema: Schema, key: string): string {
  return typeof schema.title === "string" && schema.title ? schema.title : key;
}

function ObjectFields(props: {
  schema: Schema;
  path: string;
  value: Record<string, unknown>;
  onChange: (value: Record<string, unknown>) => void;
  errors: Record<string, string>;
  idPrefix: string;
  allowTemplates: boolean;
}): ReactNode {
  const required = new Set(requiredOf(props.schema));
  return Object.entries(propertiesOf(props.schema)).map(([key, sub]) => (
    <Field
      key={key}
      schema={sub}
      label={titleOf(sub, key)}
      path={childPath(props.path, key)}
      value={props.value[key]}
      required={required.has(key)}
      onChange={(next) => {
        props.onChange(withKey(props.value, key, next));
      }}
      errors={props.errors}
      idPrefix={props.idPrefix}
      allowTemplates={props.allowTemplates}
    />
  ));
}

function Field(props: FieldProps): ReactNode {
  const kind = fieldKind(props.schema, props.value);
  // A template where a typed widget is expected (a boolean, a list) is edited as text instead.
  if (props.allowTemplates && isTemplate(props.value) && kind !== "text" && kind !== "textarea") {
    if (kind !== "number" && kind !== "integer") return <TextField {...props} multiline={false} />;
  }
  switch (kind) {
    case "text":
    case "textarea":
      return <TextField {...props} multiline={kind === "textarea"} />;
    case "select":
      return <SelectField {...props} />;
    case "number":
    case "integer":
      return <NumberField {...props} integer={kind === "integer"} />;
    case "boolean":
      return <BooleanField {...props} />;
    case "object":
      return <ObjectField {...props} />;
    case "array":
      return <ArrayField {...props} />;
    default:
      return <JsonField {...props} />;
  }
}

function TextField(props: FieldProps & { multiline: boolean }) {
  const f = useFieldText(props);
  const value = typeof props.value === "string" ? props.value : "";
  const common = {
    id: f.id,
    value,
    "aria-describedby": f.describedBy,
    "aria-invalid": f.invalid || undefined,
    "aria-required": props.required || undefined,
    placeholder: typeof props.schema.default === "string" ? props.schema.default : undefined,
  };
  const change = (text: string) => {
    props.onChange(text === "" ? undefined : text);
  };
  return (
    <div className="sf-field">
      <FieldLabel htmlFor={f.id} label={props.label} required={props.required} />
      {props.multiline ? (
        <textarea
          {...common}
          rows={4}
          onChange={(e) => {
            change(e.target.value);
          }}
        />
      ) : (
        <input
          {...common}
          type="text"
          onChange={(e) => {
            change(e.target.value);
          }}
        />
      )}
      {f.text}
    </div>
  );
}

function SelectField(props: FieldProps) {
  const f = useFieldText(props);
  const options = (props.schema.enum as unknown[]).map((o) => o as string | number);
  const index = options.findIndex((o) => o === props.value);
  return (
    <div className="sf-field">
      <FieldLabel htmlFor={f.id} label={props.label} required={props.required} />
      <select
        id={f.id}
        value={index < 0 ? "" : String(index)}
        aria-describedby={f.describedBy}
        aria-invalid={f.invalid || undefined}
        aria-required={props.required || undefined}
        onChange={(e) => {
          // Options are addressed by position so numbers keep their type.
          props.onChange(e.target.value === "" ? undefined : options[Number(e.target.value)]);
        }}
      >
        <option value="">— not set —</option>
        {options.map((o, i) => (
          <option key={String(o)} value={String(i)}>
            {String(o)}
          </option>
        ))}
      </select>
      {f.text}
    </div>
  );
}

function NumberField(props: FieldProps & { integer: boolean }) {
  const shown = (v: unknown) => (typeof v === "number" || typeof v === "string" ? String(v) : "");
  // The box keeps what was typed ("1.", "-") while the value holds the number it means.
  const [text, setText] = useState(shown(props.value));
  useEffect(() => {
    setText((current) =>
      parseNumberInput(current) === props.value ? current : shown(props.value),
    );
  }, [props.value]);
  const parsed = parseNumberInput(text);
  const badText =
    parsed !== undefined && Number.isNaN(parsed) && !(props.allowTemplates && isTemplate(text));
  // While the box holds non-number text, the stored value is stale: only say what is wrong now.
  const f = useFieldText(
    badText ? { ...props, errors: { ...props.errors, [props.path]: "Must be a number." } } : props,
  );
  return (
    <div className="sf-field">
      <FieldLabel htmlFor={f.id} label={props.label} required={props.required} />
      <input
        id={f.id}
        // Text, not type=number: templates must fit, and browsers hide what type=number rejects.
        type="text"
        inputMode={props.integer ? "numeric" : "decimal"}
        value={text}
        aria-describedby={f.describedBy}
        aria-invalid={f.invalid || undefined}
        aria-required={props.required || undefined}
        placeholder={
          typeof props.schema.default === "number" ? String(props.schema.default) : undefined
        }
        onChange={(e) => {
          const next = e.target.value;
          setText(next);
          const n = parseNumberInput(next);
          if (n === undefined) props.onChange(undefined);
          else if (!Number.isNaN(n)) props.onChange(n);
          else if (props.allowTemplates && isTemplate(next)) props.onChange(next);
        }}
      />
      {f.text}
    </div>
  );
}

function BooleanField(props: FieldProps) {
  const f = useFieldText(props);
  const checked = typeof props.value === "boolean" ? props.value : props.schema.default === true;
  return (
    <div className="sf-field sf-check">
      <input
        id={f.id}
        type="checkbox"
        checked={checked}
        aria-describedby={f.describedBy}
        aria-invalid={f.invalid || undefined}
        onChange={(e) => {
          props.onChange(e.target.checked);
        }}
      />
      <FieldLabel htmlFor={f.id} label={props.label} required={props.required} />
      {f.text}
    </div>
  );
}

function ObjectField(props: FieldProps) {
  const f = useFieldText(props);
  const value =
    typeof props.value === "object" && props.value !== null && !Array.isArray(props.value)
      ? (props.value as Record<string, unknown>)
      : {};
  return (
    <fieldset className="sf-fieldset" id={f.id} aria-describedby={f.describedBy}>
      <legend>
        {props.label}
        {props.required ? <span className="sf-required"> * (required)</span> : null}
      </legend>
      {f.text}
      <ObjectFields
        schema={props.schema}
        path={props.path}
        value={value}
        onChange={(next) => {
          props.onChange(Object.keys(next).length === 0 ? undefined : next);
        }}
        errors={props.errors}
        idPrefix={props.idPrefix}
        allowTemplates={props.allowTemplates}
      />
    </fieldset>
  );
}

function ArrayField(props: FieldProps) {
  const f = useFieldText(props);
  const items = Array.isArray(props.value) ? (props.value as unknown[]) : [];
  const itemSchema = props.schema.items as Schema;
  const blank = schemaType(itemSchema) === "boolean" ? false : undefined;
  const set = (next: unknown[]) => {
    props.onChange(next.length === 0 ? undefined : next);
  };
  return (
    <fieldset className="sf-fieldset" id={f.id} aria-describedby={f.describedBy}>
      <legend>
        {props.label}
        {props.required ? <span className="sf-required"> * (required)</span> : null}
      </legend>
      {f.text}
      {items.length === 0 ? <p className="sf-help">No items yet.</p> : null}
      <ol className="sf-items">
        {items.map((item, i) => (
          // Rows have no identity of their own; position is what the user edits.
          <li key={i} className="sf-item">
            <Field
              schema={itemSchema}
              label={`${props.label} item ${i + 1}`}
              path={childPath(props.path, i)}
              value={item}
              required={false}
              onChange={(next) => {
                set(items.map((old, j) => (j === i ? (next ?? blank ?? "") : old)));
              }}
              errors={props.errors}
              idPrefix={props.idPrefix}
              allowTemplates={props.allowTemplates}
            />
            <button
              type="button"
              aria-label={`Remove ${props.label} item ${i + 1}`}
              onClick={() => {
                set(items.filter((_, j) => j !== i));
              }}
            >
              Remove
            </button>
          </li>
        ))}
      </ol>
      <button
        type="button"
        onClick={() => {
          const initial = schemaType(itemSchema) === "string" ? "" : (blank ?? 0);
          set([...items, itemSchema.default ?? initial]);
        }}
      >
        Add {props.label} item
      </button>
    </fieldset>
  );
}

function JsonField(props: FieldProps) {
  const pretty = (v: unknown) => (v === undefined ? "" : JSON.stringify(v, null, 2));
  const [text, setText] = useState(pretty(props.value));
  const [parseError, setParseError] = useState<string | null>(null);
  useEffect(() => {
    // Follow outside changes (undo, another node) unless the box already says the same thing.
    setText((current) => {
      const parsed = parseJsonInput(current);
      return parsed.ok && JSON.stringify(parsed.value) === JSON.stringify(props.value)
        ? current
        : pretty(props.value);
    });
    setParseError(null);
  }, [props.value]);
  // Nested problems ("/headers/x") have no field of their own here: list them under the box.
  const nested = errorsUnder(props.errors, props.path).slice(props.errors[props.path] ? 1 : 0);
  const f = useFieldText(props, [...(parseError ? [parseError] : []), ...nested]);
  return (
    <div className="sf-field">
      <FieldLabel htmlFor={f.id} label={`${props.label} (JSON)`} required={props.required} />
      <textarea
        id={f.id}
        className="sf-json"
        rows={Math.min(12, Math.max(3, text.split("\n").length))}
        spellCheck={false}
        value={text}
        aria-describedby={f.describedBy}
        aria-invalid={f.invalid || undefined}
        aria-required={props.required || undefined}
        onChange={(e) => {
          setText(e.target.value);
          const parsed = parseJsonInput(e.target.value);
          if (parsed.ok) {
            setParseError(null);
            props.onChange(parsed.value);
          } else {
            setParseError(parsed.error);
          }
        }}
      />
      {f.text}
    </div>
  );
}

/** Fields for every property of `schema`. */
export function SchemaForm(props: SchemaFormProps) {
  const allowTemplates = props.allowTemplates ?? false;
  // Server errors win over local ones for the same path: they are the authority.
  const errors = {
    ...validateAgainstSchema(props.schema, props.value, { allowTemplates }),
    ...props.errors,
  };
  const rootError = errors[""];
  const hasFields = Object.keys(propertiesOf(props.schema)).length > 0;
  return (
    <div className="sf" id={props.idPrefix}>
      {rootError && hasFields ? (
        <p className="field-error sf-error" id={`${props.idPrefix}-error`}>
          <span aria-hidden="true">⚠ </span>
          {rootError}
        </p>
      ) : null}
      {hasFields ? (
        <ObjectFields
          schema={props.schema}
          path=""
          value={props.value}
          onChange={props.onChange}
          errors={errors}
          idPrefix={props.idPrefix}
          allowTemplates={allowTemplates}
        />
      ) : (
        // No declared properties: the whole value is edited as JSON.
        <JsonField
          schema={props.schema}
          label="Value"
          path=""
          value={props.value}
          required={false}
          onChange={(next) => {
            props.onChange(
              typeof next === "object" && next !== null && !Array.isArray(next)
                ? (next as Record<string, unknown>)
                : {},
            );
          }}
          errors={errors}
          idPrefix={props.idPrefix}
          allowTemplates={allowTemplates}
        />
      )}
    </div>
  );
}
