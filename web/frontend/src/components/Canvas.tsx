// The drawing surface: nodes and edges of the current scope. Nodes come from the palette
// (dragged, or picked then clicked into place), edges are drawn between handles, Delete
// removes the selection, and moved nodes keep their place in the document's layout.
import {
  Background,
  Controls,
  MiniMap,
  ReactFlow,
  applyNodeChanges,
  useNodesInitialized,
  useReactFlow,
  type Connection,
  type Edge,
  type NodeChange,
} from "@xyflow/react";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { addEdge, moveNodes, removeEdges, removeNodes } from "../model/edit";
import { layout } from "../model/layout";
import type { Part } from "../model/part";
import type { Point } from "../model/types";
import { FlowNode } from "./FlowNode";
import { flowEdges, flowNodes, layoutIds, type FlowNode as FlowNodeType, type ViewInput } from "./graphView";

const NODE_TYPES = { flow: FlowNode };
export const DRAG_TYPE = "application/x-flowc-node-type";

interface Props {
  view: Omit<ViewInput, "positions">;
  placing: string | null;
  fitKey: number; // changes when a new document is opened: fit it in view
  onEdit: (edit: (part: Part) => Part) => void;
  onAdd: (type: string, at: Point) => void;
  onSelectNode: (id: string | null) => void;
  onSelectEdge: (index: number) => void;
  onPositions: (positions: Record<string, Point>) => void;
}

export function Canvas(props: Props) {
  const { view, onEdit, onAdd } = props;
  const flow = useReactFlow();
  const positions = useAutoLayout(view.part);
  const [nodes, setNodes] = useState<FlowNodeType[]>([]);
  const edges = useMemo(() => flowEdges({ ...view, positions }), [view, positions]);

  useEffect(() => {
    setNodes(flowNodes({ ...view, positions }));
  }, [view, positions]);
  useEffect(() => {
    props.onPositions(positions);
  }, [positions, props.onPositions]);
  const fitted = useRef(-1);
  const measured = useNodesInitialized();
  const laidOut = layoutIds(view.part).every((id) => positions[id]);
  useEffect(() => {
    if (!laidOut || !measured || fitted.current === props.fitKey) return;
    fitted.current = props.fitKey;
    void flow.fitView({ padding: 0.15, maxZoom: 1 });
  }, [props.fitKey, laidOut, measured, flow]);

  const onNodesChange = useCallback((changes: NodeChange<FlowNodeType>[]) => {
    setNodes((current) => applyNodeChanges(changes, current));
  }, []);

  const onNodeDragStop = useCallback(
    (_: unknown, _node: FlowNodeType, dragged: FlowNodeType[]) => {
      const moves: Record<string, Point> = {};
      for (const n of dragged) if (n.data.doc) moves[n.id] = { x: Math.round(n.position.x), y: Math.round(n.position.y) };
      onEdit((part) => moveNodes(part, moves));
    },
    [onEdit],
  );

  const onConnect = useCallback((c: Connection) => onEdit((part) => addEdge(part, c.source, c.target)), [onEdit]);

  const onDelete = useCallback(
    ({ nodes: gone, edges: cut }: { nodes: FlowNodeType[]; edges: Edge[] }) => {
      const ids = new Set(gone.filter((n) => n.data.doc).map((n) => n.id));
      const indices = new Set(cut.map((e) => Number((e.data as { index: number }).index)));
      onEdit((part) => removeNodes(removeEdges(part, indices), ids));
    },
    [onEdit],
  );

  const place = (clientX: number, clientY: number, type: string) => {
    const at = flow.screenToFlowPosition({ x: clientX, y: clientY });
    onAdd(type, { x: Math.round(at.x), y: Math.round(at.y) });
  };

  return (
    <div
      className={`canvas${props.placing ? " placing" : ""}`}
      data-testid="canvas"
      onDragOver={(e) => e.preventDefault()}
      onDrop={(e) => {
        const type = e.dataTransfer.getData(DRAG_TYPE);
        if (type) place(e.clientX, e.clientY, type);
      }}
    >
      <ReactFlow<FlowNodeType, Edge>
        nodes={nodes}
        edges={edges}
        nodeTypes={NODE_TYPES}
        onNodesChange={onNodesChange}
        onNodeDragStop={onNodeDragStop}
        onConnect={onConnect}
        onDelete={onDelete}
        onNodeClick={(_, node) => node.data.doc && props.onSelectNode(node.id)}
        onEdgeClick={(_, edge) => props.onSelectEdge(Number((edge.data as { index: number }).index))}
        onPaneClick={(e) => (props.placing ? place(e.clientX, e.clientY, props.placing) : props.onSelectNode(null))}
        deleteKeyCode={["Delete", "Backspace"]}
        minZoom={0.2}
      >
        <Background />
        <Controls />
        <MiniMap pannable zoomable style={{ width: 140, height: 90 }} />
      </ReactFlow>
    </div>
  );
}

/** Positions of every node: the document's, else ELK's for those it does not place. */
function useAutoLayout(part: Part): Record<string, Point> {
  const [auto, setAuto] = useState<Record<string, Point>>({});
  const ids = layoutIds(part);
  const missing = ids.filter((id) => !part.layout[id]);
  const key = JSON.stringify([missing, part.edges.map((e) => [e.from, e.to]), part.layout]);
  useEffect(() => {
    if (missing.length === 0) return;
    let live = true;
    void layout(ids, part.edges, part.layout).then((p) => live && setAuto(p));
    return () => {
      live = false;
    };
  }, [key]);
  return useMemo(() => {
    const positions: Record<string, Point> = {};
    for (const id of ids) {
      const p = part.layout[id] ?? auto[id];
      if (p) positions[id] = p;
    }
    return positions;
  }, [key, auto]);
}
