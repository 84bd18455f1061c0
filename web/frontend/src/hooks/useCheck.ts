// Live validation: the draft is checked by the server shortly after each edit, and its
// problems come back with JSON paths and node ids (a 422 lists the errors, a 200 the
// warnings).
import { useEffect, useState } from "react";
import { ApiError, type Api } from "../api/client";
import type { Problem, WorkflowDoc } from "../model/types";

const DELAY_MS = 300;

export function useCheck(api: Api, doc: WorkflowDoc, onError: (error: unknown) => void): Problem[] {
  const [problems, setProblems] = useState<Problem[]>([]);
  useEffect(() => {
    let live = true;
    const timer = setTimeout(() => {
      api.check(doc).then(
        (answer) => live && setProblems(answer.warnings),
        (error: unknown) => {
          if (!live) return;
          if (error instanceof ApiError && error.kind === "invalid") setProblems(error.problems);
          else onError(error);
        },
      );
    }, DELAY_MS);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [api, doc, onError]);
  return problems;
}
