// After `vite build`: a gzip copy (`NAME.gz`) beside each text file of the bundle worth
// compressing, made once here so the server can send it to browsers that accept gzip
// without compressing on every request (the bundle is embedded in the server as it is).
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync, constants } from "node:zlib";

const TEXT = /\.(js|mjs|css|html|svg|json|txt)$/;
/** Smaller files gain less than the header costs. */
const WORTH = 1024;

function walk(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (TEXT.test(name) && statSync(path).size >= WORTH) {
      writeFileSync(path + ".gz", gzipSync(readFileSync(path), { level: constants.Z_BEST_COMPRESSION }));
    }
  }
}

walk(new URL("../dist", import.meta.url).pathname);
