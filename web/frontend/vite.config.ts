import react from "@vitejs/plugin-react";
import { defineConfig } from "vitest/config";

// The build lands in web/static, which FastAPI serves at `/` (the bundle under /assets).
export default defineConfig({
  plugins: [react()],
  build: { outDir: "../static", emptyOutDir: true, chunkSizeWarningLimit: 2000 },
  server: { proxy: { "/v1": "http://127.0.0.1:8000", "/health": "http://127.0.0.1:8000" } },
  test: { environment: "node", include: ["src/**/*.test.ts"] },
});
