import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// The server embeds dist/ and serves it under /console/ (crates/server/build.rs).
export default defineConfig({
  base: "/console/",
  plugins: [react()],
  build: {
    outDir: "dist",
    assetsDir: "assets",
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 2048,
  },
});
