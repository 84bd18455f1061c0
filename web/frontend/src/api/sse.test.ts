import { describe, expect, it } from "vitest";
import { SseParser } from "./sse";

describe("server-sent events", () => {
  it("parses messages split anywhere across chunks", () => {
    const parser = new SseParser();
    expect(parser.push("id: 0\nevent: tok")).toEqual([]);
    expect(parser.push('en\ndata: {"a":\ndata: 1}\n\n: comment\n\nid: 1\r\ndata: x\r\n\r\n')).toEqual([
      { id: "0", event: "token", data: '{"a":\n1}' },
      { id: "1", event: "message", data: "x" },
    ]);
  });
});
