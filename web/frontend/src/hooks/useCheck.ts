// Live validation: the draft is checked by the server shortly after each edit, and its
// problems come back with JSON paths and node ids.
import { useEffect, useState } from "react";
import type { Api } from "../api/client";
import type { Problem, WorkflowDoc } from "../model/types";

const DELAY_MS = 300;

export function useCheck(api: Api, doc: WorkflowDoc, onError: (error: unknown) => void): Problem[] {
  const [problems, setProblems] = useState<Problem[]>([]);
  useEffect(() => {
    let live = true;
    const timer = setTimeout(() => {
      api.check(doc).then(
        (answer) => live && setProblems([...answer.errors, ...answer.warnings]),
        (error) => live && onError(error),
      );
    }, DELAY_MS);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [api, doc, onError]);
  return problems;
}
