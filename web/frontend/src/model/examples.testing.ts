// The repository's example workflows, for the unit tests.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const FOLDER = join(__dirname, "..", "..", "..", "..", "examples", "graphs");

export function exampleTexts(): [string, string][] {
  return readdirSync(FOLDER)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((f) => [f, readFileSync(join(FOLDER, f), "utf-8")]);
}
