// Builds the web page into dist/web/: app.js (src/web/main.ts and its imports, bundled), app.css
// (with the self-hosted font files under fonts/), index.html and favicon.svg. Type checking is
// tsc's job (npm run build runs it first); this only bundles. Nothing is fetched from the network.
/* global console */
import { build } from "esbuild";
import { copyFileSync, mkdirSync, rmSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const source = path.join(root, "src", "web");
const out = path.join(root, "dist", "web");

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

const result = await build({
  absWorkingDir: root,
  entryPoints: [
    { in: path.join(source, "main.ts"), out: "app" },
    { in: path.join(source, "app.css"), out: "app" },
  ],
  outdir: out,
  bundle: true,
  format: "esm",
  platform: "browser",
  target: ["es2022", "chrome110", "firefox110", "safari16"],
  minify: true,
  sourcemap: "linked",
  legalComments: "linked",
  loader: { ".woff2": "file", ".woff": "file" },
  assetNames: "fonts/[name]-[hash]",
  metafile: true,
  logLevel: "warning",
});

for (const file of ["index.html", "favicon.svg"]) copyFileSync(path.join(source, file), path.join(out, file));

const outputs = Object.entries(result.metafile.outputs)
  .filter(([file]) => !file.endsWith(".map"))
  .map(
    ([file, output]) =>
      `${path.relative(out, path.join(root, file))} ${(output.bytes / 1024).toFixed(1)} KiB`,
  );
console.log(
  `web: dist/web/ index.html favicon.svg ${outputs.filter((line) => !line.startsWith("fonts/")).join(", ")}`,
);
