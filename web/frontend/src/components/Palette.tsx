// The node types of the format's schema: drag one onto the canvas, or click it and then click
// where it goes.
import { DRAG_TYPE } from "./Canvas";

interface Props {
  types: string[];
  placing: string | null;
  onPick: (type: string | null) => void;
}

export function Palette({ types, placing, onPick }: Props) {
  return (
    <nav className="palette" data-testid="palette">
      <h3>Nodes</h3>
      {types.map((type) => (
        <button
          key={type}
          className={`palette-item type-${type}${placing === type ? " active" : ""}`}
          data-testid={`palette-${type}`}
          draggable
          onDragStart={(e) => e.dataTransfer.setData(DRAG_TYPE, type)}
          onClick={() => onPick(placing === type ? null : type)}
          title={`drag onto the canvas, or click then click the canvas`}
        >
          {type}
        </button>
      ))}
      {placing && <p className="hint">click the canvas to place a {placing} node (Esc cancels)</p>}
      <h3>Keys</h3>
      <dl className="keys">
        <dt>Ctrl+Z / Ctrl+Shift+Z</dt>
        <dd>undo / redo</dd>
        <dt>Ctrl+C / Ctrl+V</dt>
        <dd>copy / paste</dd>
        <dt>Delete</dt>
        <dd>remove selection</dd>
        <dt>Ctrl+S</dt>
        <dd>save</dd>
        <dt>Ctrl+Enter</dt>
        <dd>compile</dd>
        <dt>Ctrl+L</dt>
        <dd>lay out</dd>
      </dl>
    </nav>
  );
}
