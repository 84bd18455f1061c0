// A Gantt chart of the run's node spans: parallel branches show as bars side by side in time.
import type { Span } from "../model/run";

export function Timeline({ spans, now }: { spans: Span[]; now: number }) {
  if (spans.length === 0) return <p className="empty">no node has started yet</p>;
  const end = Math.max(now, ...spans.map((s) => s.end ?? now), 0.001);
  return (
    <div className="timeline" data-testid="timeline">
      {spans.map((s) => {
        const left = (s.start / end) * 100;
        const width = Math.max(0.5, (((s.end ?? now) - s.start) / end) * 100);
        return (
          <div className="lane" key={s.key}>
            <span className="lane-label">{s.label}</span>
            <span className="lane-track">
              <span className={`bar bar-${s.status}`} data-testid="timeline-bar" style={{ left: `${left}%`, width: `${width}%` }} title={`${s.label}: ${s.start.toFixed(3)}–${s.end === null ? "…" : s.end.toFixed(3)} s`} />
            </span>
          </div>
        );
      })}
      <div className="axis">
        <span>0 s</span>
        <span>{end.toFixed(2)} s</span>
      </div>
    </div>
  );
}
