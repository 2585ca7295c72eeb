/**
 * The builder's actions. Editing actions are left out for viewers (not just disabled), and
 * names never change while busy so they stay predictable; progress is announced elsewhere.
 */

/** Props of `Toolbar`. */
export interface ToolbarProps {
  editable: boolean;
  busy: string | null;
  canUndo: boolean;
  canRedo: boolean;
  hasNodes: boolean;
  onSave: () => void;
  onValidate: () => void;
  onDeploy: () => void;
  onLayout: () => void;
  onUndo: () => void;
  onRedo: () => void;
  onViewYaml: () => void;
  onDownloadYaml: () => void;
  onImport: () => void;
}

/** The toolbar above the canvas. */
export function Toolbar(props: ToolbarProps) {
  const { editable, busy } = props;
  return (
    <div className="qo-toolbar" role="toolbar" aria-label="Workflow actions">
      {editable ? (
        <>
          <button
            type="button"
            onClick={props.onUndo}
            disabled={!props.canUndo}
            aria-keyshortcuts="Control+Z"
          >
            <span aria-hidden="true">↶ </span>Undo
          </button>
          <button
            type="button"
            onClick={props.onRedo}
            disabled={!props.canRedo}
            aria-keyshortcuts="Control+Shift+Z"
          >
            <span aria-hidden="true">↷ </span>Redo
          </button>
          <button type="button" onClick={props.onLayout} disabled={!props.hasNodes}>
            Auto-layout
          </button>
        </>
      ) : null}
      <button type="button" onClick={props.onValidate} disabled={busy !== null}>
        Validate
      </button>
      <button type="button" onClick={props.onViewYaml}>
        View YAML
      </button>
      <button type="button" onClick={props.onDownloadYaml}>
        Download YAML
      </button>
      {editable ? (
        <>
          <button type="button" onClick={props.onImport}>
            Import
          </button>
          <button type="button" onClick={props.onSave} disabled={busy !== null}>
            Save draft
          </button>
          <button
            type="button"
            className="primary"
            onClick={props.onDeploy}
            disabled={busy !== null}
          >
            Deploy
          </button>
        </>
      ) : null}
    </div>
  );
}
