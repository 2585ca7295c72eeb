import react from "@vitejs/plugin-react";
import { defineConfig } from "vitest/config";

// The bundle is committed inside the Python package so that `pip install` and `qo up` need no
// Node.js; CI rebuilds it and fails when the committed copy is stale.
export default defineConfig({
  plugins: [react()],
  base: "/",
  build: {
    outDir: "../src/quantum_orchestrator/web/dist",
    emptyOutDir: true,
    sourcemap: false,
    // No inline modulepreload polyfill: the CSP forbids inline scripts.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 600,
  },
  server: {
    proxy: {
      "/api": { target: "http://127.0.0.1:8000", ws: true },
    },
  },
  test: {
    environment: "jsdom",
    include: ["src/**/*.test.ts", "src/**/*.test.tsx"],
  },
});
