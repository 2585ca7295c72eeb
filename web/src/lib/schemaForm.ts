/**
 * Pure logic behind `SchemaForm`: which widget a JSON Schema gets, how typed text becomes a
 * value, and the validation messages shown inline. Kept free of React so it is easy to test and
 * so other screens (the start-run form) can check a value before they submit it.
 */

/** A JSON Schema node as the form reads it (anything unknown is simply ignored). */
export type Schema = Record<string, unknown>;

/** The widget a schema is edited with. */
export type FieldKind =
  "text" | "textarea" | "select" | "number" | "integer" | "boolean" | "object" | "array" | "json";

const SCALARS = new Set(["string", "number", "integer", "boolean"]);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The schema's `properties`, or an empty object. */
export function propertiesOf(schema: Schema): Record<string, Schema> {
  const props = schema.properties;
  if (!isRecord(props)) return {};
  const out: Record<string, Schema> = {};
  for (const [key, sub] of Object.entries(props)) out[key] = isRecord(sub) ? sub : {};
  return out;
}

/** The names listed in the schema's `required`. */
export function requiredOf(schema: Schema): string[] {
  return Array.isArray(schema.required)
    ? schema.required.filter((r): r is string => typeof r === "string")
    : [];
}

/** The main type of a schema: the first non-null entry of `type`, or one implied by keywords. */
export function schemaType(schema: Schema): string | undefined {
  const t = schema.type;
  if (typeof t === "string") return t;
  if (Array.isArray(t)) {
    const found = t.find((x): x is string => typeof x === "string" && x !== "null");
    if (found) return found;
  }
  if (isRecord(schema.properties)) return "object";
  if (Array.isArray(schema.enum) && schema.enum.every((e) => typeof e === "string")) {
    return "string";
  }
  return undefined;
}

/** Whether `null` is allowed by `type` (["string", "null"]). */
function allowsNull(schema: Schema): boolean {
  return Array.isArray(schema.type) && schema.type.includes("null");
}

/** Whether a string schema reads better as a multi-line box. */
function isMultiline(schema: Schema, value: unknown): boolean {
  if (schema.format === "textarea" || schema["x-multiline"] === true) return true;
  if (typeof schema.maxLength === "number" && schema.maxLength > 200) return true;
  const description = typeof schema.description === "string" ? schema.description : "";
  if (/multi-?line|multiple lines/i.test(description)) return true;
  return typeof value === "string" && value.includes("\n");
}

/** The widget for `schema`; `value` matters only for strings that already hold newlines. */
export function fieldKind(schema: Schema, value?: unknown): FieldKind {
  // Alternatives cannot be shown as one widget: JSON lets the user write any of them.
  if (schema.oneOf !== undefined || schema.anyOf !== undefined || schema.allOf !== undefined) {
    return "json";
  }
  const type = schemaType(schema);
  if (Array.isArray(schema.enum) && schema.enum.length > 0 && type !== "array") {
    return schema.enum.every((e) => typeof e === "string" || typeof e === "number")
      ? "select"
      : "json";
  }
  switch (type) {
    case "string":
      return isMultiline(schema, value) ? "textarea" : "text";
    case "number":
      return "number";
    case "integer":
      return "integer";
    case "boolean":
      return "boolean";
    case "object":
      // A free-form map (no declared properties) has no fields to generate.
      return Object.keys(propertiesOf(schema)).length > 0 ? "object" : "json";
    case "array": {
      const items = isRecord(schema.items) ? schema.items : undefined;
      if (!items) return "json";
      const itemKind = fieldKind(items);
      return SCALARS.has(schemaType(items) ?? "") && itemKind !== "json" ? "array" : "json";
    }
    default:
      return "json";
  }
}

/** One path segment escaped as in a JSON Pointer (`~` → `~0`, `/` → `~1`). */
export function pointerSegment(key: string | number): string {
  return String(key).replace(/~/g, "~0").replace(/\//g, "~1");
}

/** `path` + `/key`. */
export function childPath(path: string, key: string | number): string {
  return `${path}/${pointerSegment(key)}`;
}

/** An id fragment for `path` that is a valid, unique HTML id suffix. */
export function pathId(path: string): string {
  return path.replace(/[^A-Za-z0-9_-]/g, (c) => `_${c.charCodeAt(0).toString(16)}_`);
}

/**
 * What typed text means in a number field: `undefined` for an empty box (the key is removed),
 * a number, or `NaN` for text that is not a number (the caller keeps the text and shows why).
 */
export function parseNumberInput(text: string): number | undefined {
  const trimmed = text.trim();
  if (trimmed === "") return undefined;
  const n = Number(trimmed);
  return Number.isFinite(n) ? n : Number.NaN;
}

/** The result of reading a JSON text box. */
export type JsonParse = { ok: true; value: unknown } | { ok: false; error: string };

/** Parse a JSON text box: empty text means "no value" (`undefined`). */
export function parseJsonInput(text: string): JsonParse {
  if (text.trim() === "") return { ok: true, value: undefined };
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (e) {
    return { ok: false, error: `Not valid JSON: ${e instanceof Error ? e.message : String(e)}` };
  }
}

/** A copy of `obj` with `key` set to `value`, or removed when `value` is `undefined`. */
export function withKey(
  obj: Record<string, unknown>,
  key: string,
  value: unknown,
): Record<string, unknown> {
  const next = { ...obj };
  if (value === undefined) {
    // Deleting keeps optional fields out of the value rather than sending empty strings.
    // eslint-disable-next-line @typescript-eslint/no-dynamic-delete -- keys come from the schema
    delete next[key];
  } else {
    next[key] = value;
  }
  return next;
}

function typeOfValue(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  return typeof value;
}

function typeMatches(expected: string, value: unknown): boolean {
  const actual = typeOfValue(value);
  if (expected === "number") return actual === "number" || actual === "integer";
  return expected === actual;
}

const TYPE_WORDS: Record<string, string> = {
  string: "text",
  number: "a number",
  integer: "a whole number",
  boolean: "true or false",
  object: "an object",
  array: "a list",
  null: "null",
};

function describe(value: unknown): string {
  return typeof value === "string" ? `"${value}"` : JSON.stringify(value);
}

/** A template such as `{{ inputs.n }}` is rendered by the server later: it may stand for anything. */
function isTemplate(value: unknown): boolean {
  return typeof value === "string" && /\{\{|\{%/.test(value);
}

function validateInto(
  schema: Schema,
  value: unknown,
  path: string,
  out: Record<string, string>,
  allowTemplates: boolean,
): void {
  if (value === undefined) return;
  if (allowTemplates && isTemplate(value)) return;
  const alternatives = [schema.oneOf, schema.anyOf].find(Array.isArray) as unknown[] | undefined;
  if (alternatives) {
    const fits = alternatives.some(
      (alt) => isRecord(alt) && Object.keys(validateAgainstSchema(alt, value)).length === 0,
    );
    if (!fits) out[path] = "Does not match any of the allowed shapes.";
    return;
  }
  const types = Array.isArray(schema.type)
    ? schema.type.filter((t): t is string => typeof t === "string")
    : typeof schema.type === "string"
      ? [schema.type]
      : [];
  if (value === null && allowsNull(schema)) return;
  if (types.length > 0 && !types.some((t) => typeMatches(t, value))) {
    const wanted = types.filter((t) => t !== "null").map((t) => TYPE_WORDS[t] ?? t);
    out[path] = `Must be ${wanted.join(" or ")}.`;
    return;
  }
  if (Array.isArray(schema.enum) && !schema.enum.some((e) => e === value)) {
    out[path] = `Must be one of: ${schema.enum.map(describe).join(", ")}.`;
    return;
  }
  if ("const" in schema && schema.const !== value) {
    out[path] = `Must be ${describe(schema.const)}.`;
    return;
  }
  if (typeof value === "number") {
    const { minimum, maximum, exclusiveMinimum, exclusiveMaximum } = schema;
    if (Number.isNaN(value)) out[path] = "Must be a number.";
    else if (typeof minimum === "number" && value < minimum) out[path] = `Must be ≥ ${minimum}.`;
    else if (typeof maximum === "number" && value > maximum) out[path] = `Must be ≤ ${maximum}.`;
    else if (typeof exclusiveMinimum === "number" && value <= exclusiveMinimum) {
      out[path] = `Must be > ${exclusiveMinimum}.`;
    } else if (typeof exclusiveMaximum === "number" && value >= exclusiveMaximum) {
      out[path] = `Must be < ${exclusiveMaximum}.`;
    }
    return;
  }
  if (typeof value === "string") {
    const { minLength, maxLength, pattern } = schema;
    if (typeof minLength === "number" && value.length < minLength) {
      out[path] = minLength === 1 ? "Required." : `At least ${minLength} characters.`;
    } else if (typeof maxLength === "number" && value.length > maxLength) {
      out[path] = `At most ${maxLength} characters.`;
    } else if (typeof pattern === "string") {
      let re: RegExp | undefined;
      try {
        re = new RegExp(pattern, "u");
      } catch {
        re = undefined; // A pattern JavaScript cannot read is left to the server.
      }
      if (re && !re.test(value)) out[path] = `Must match the pattern ${pattern}.`;
    }
    return;
  }
  if (Array.isArray(value)) {
    const { minItems, maxItems, items } = schema;
    if (typeof minItems === "number" && value.length < minItems) {
      out[path] = `At least ${minItems} item${minItems === 1 ? "" : "s"}.`;
    } else if (typeof maxItems === "number" && value.length > maxItems) {
      out[path] = `At most ${maxItems} item${maxItems === 1 ? "" : "s"}.`;
    }
    if (isRecord(items)) {
      value.forEach((item, i) => {
        validateInto(items, item, childPath(path, i), out, allowTemplates);
      });
    }
    return;
  }
  if (isRecord(value)) {
    for (const key of requiredOf(schema)) {
      if (value[key] === undefined) out[childPath(path, key)] = "Required.";
    }
    const props = propertiesOf(schema);
    for (const [key, sub] of Object.entries(props)) {
      validateInto(sub, value[key], childPath(path, key), out, allowTemplates);
    }
    if (schema.additionalProperties === false) {
      const extra = Object.keys(value).filter((k) => !(k in props));
      if (extra.length > 0 && !out[path]) out[path] = `Unknown field: ${extra.join(", ")}.`;
    }
  }
}

/** Options of `validateAgainstSchema`. */
export interface ValidateOptions {
  /**
   * Accept any `{{ … }}` / `{% … %}` string wherever a value is expected: node params are
   * templates that the server renders later, so `"{{ inputs.n }}"` is fine for a number.
   */
  allowTemplates?: boolean;
}

/**
 * The problems of `value` against `schema`, keyed by JSON Pointer path ("" is the whole value,
 * "/url" a property, "/tags/0" an item). Covers required, type, enum, const, min/max, lengths,
 * pattern, item counts and oneOf/anyOf; an empty object means no problem was found. The server
 * stays the authority: this only gives feedback while typing.
 */
export function validateAgainstSchema(
  schema: Schema,
  value: unknown,
  options: ValidateOptions = {},
): Record<string, string> {
  const out: Record<string, string> = {};
  validateInto(schema, value, "", out, options.allowTemplates ?? false);
  return out;
}

/** The messages under `path` (the field itself and anything nested in it). */
export function errorsUnder(errors: Record<string, string>, path: string): string[] {
  return Object.entries(errors)
    .filter(([p]) => p === path || p.startsWith(`${path}/`))
    .map(([p, message]) => (p === path ? message : `${p.slice(path.length + 1)}: ${message}`));
}
