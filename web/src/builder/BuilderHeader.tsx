/** The builder's header: title, the workflow's name, and whether everything is saved. */
import { Link } from "react-router";

/** What the server holds of the workflow being edited. */
export interface Saved {
  id: string;
  name: string;
  latestVersion: number | null;
}

/** Props of `BuilderHeader`. */
export interface BuilderHeaderProps {
  title: string;
  name: string;
  /** Why the name is refused (locally or by the last check), if it is. */
  nameProblem: string | undefined;
  editable: boolean;
  busy: string | null;
  dirty: boolean;
  saved: Saved | null;
  onName: (name: string) => void;
}

const BUSY: Record<string, string> = {
  save: "Saving…",
  deploy: "Deploying…",
  validate: "Validating…",
};

/** The header above the toolbar; the status line is a live region. */
export function BuilderHeader(props: BuilderHeaderProps) {
  const { title, name, nameProblem, editable, busy, dirty, saved } = props;
  const state = busy ? BUSY[busy] : dirty ? "● Unsaved changes" : "✓ All changes saved";
  return (
    <header className="qo-builder-head">
      <h1 id="qo-builder-title">{title}</h1>
      <div className="qo-field qo-name">
        <label htmlFor="qo-wf-name">Workflow name</label>
        <input
          id="qo-wf-name"
          value={name}
          readOnly={!editable}
          required
          aria-invalid={nameProblem !== undefined || undefined}
          aria-describedby="qo-wf-name-help"
          onChange={(e) => {
            props.onName(e.target.value);
          }}
        />
        <span id="qo-wf-name-help" className={nameProblem ? "field-error" : "qo-hint"}>
          {nameProblem ? `⚠ ${nameProblem}` : ""}
        </span>
      </div>
      <p className="qo-status qo-unsaved-indicator" role="status" aria-live="polite">
        {state}
        {saved?.latestVersion ? ` · Latest version ${saved.latestVersion}` : " · Not deployed yet"}
      </p>
      {saved ? (
        <Link to={`/workflows/${encodeURIComponent(saved.name)}/versions`}>Versions</Link>
      ) : null}
    </header>
  );
}
