/** A run, step or agent state: an icon and the word, never colour alone. */
import { STATE_ICONS } from "../lib/stateIcons";

/** `state` as a labelled badge; its class gives the colour. */
export function StateBadge({ state }: { state: string }) {
  return (
    <span className={`badge state-${state}`}>
      <span aria-hidden="true">{STATE_ICONS[state] ?? "•"}</span> {state.replace("_", " ")}
    </span>
  );
}
