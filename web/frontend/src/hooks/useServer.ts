// The server the editor talks to: its client (with the token), its schema and examples, and
// whether it can be reached, checked every few seconds.
import { useCallback, useEffect, useMemo, useState } from "react";
import { Api, ApiError } from "../api/client";
import type { Example } from "../api/types";
import { loadToken, saveToken } from "../model/storage";
import type { JsonObject } from "../model/types";

const POLL_MS = 5000;

export interface Server {
  api: Api;
  token: string;
  setToken: (token: string) => void;
  schema: JsonObject | null;
  examples: Example[];
  model: string;
  connection: string | null; // null when all is well, else what is wrong
  report: (error: unknown) => string; // an error in words, noting a lost connection
}

export function useServer(): Server {
  const [token, setTokenState] = useState(() => loadToken(localStorage));
  const api = useMemo(() => new Api("", token), [token]);
  const [schema, setSchema] = useState<JsonObject | null>(null);
  const [examples, setExamples] = useState<Example[]>([]);
  const [model, setModel] = useState("");
  const [connection, setConnection] = useState<string | null>(null);

  const report = useCallback((error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    if (error instanceof ApiError && (error.kind === "unreachable" || error.kind === "auth")) setConnection(message);
    return message;
  }, []);

  useEffect(() => {
    let live = true;
    const poll = async () => {
      try {
        const health = await api.health();
        const [format, menu] = await Promise.all([api.schema(), api.examples()]);
        if (!live) return;
        setModel(health.model);
        setSchema(format);
        setExamples(menu.data);
        setConnection(null);
      } catch (error) {
        if (live) report(error);
      }
    };
    void poll();
    const timer = setInterval(poll, POLL_MS);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, [api, report]);

  const setToken = useCallback((value: string) => {
    saveToken(localStorage, value);
    setTokenState(value);
  }, []);
  return { api, token, setToken, schema, examples, model, connection, report };
}
