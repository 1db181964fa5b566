// Serves the built web page (dist/web/) at `/`: index.html, app.js, app.css, favicon.svg and the
// font files, read into memory once at start. Only files that exist under `root` when the node
// starts are served, by exact path, so no request can reach outside it.
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import type { FastifyInstance } from "fastify";

const contentTypes: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".woff2": "font/woff2",
  ".woff": "font/woff",
  ".png": "image/png",
  ".txt": "text/plain; charset=utf-8",
};

interface StaticFile {
  body: Buffer;
  contentType: string;
  etag: string;
  /** Font files carry a content hash in their name, so they never change under the same name. */
  immutable: boolean;
}

/** Every servable file under `root`, keyed by its URL path ("/app.js", "/fonts/…"). */
function readTree(root: string, prefix = ""): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  for (const name of readdirSync(root)) {
    const full = path.join(root, name);
    if (statSync(full).isDirectory()) {
      for (const [key, file] of readTree(full, `${prefix}/${name}`)) files.set(key, file);
      continue;
    }
    const contentType = contentTypes[path.extname(name)];
    if (contentType === undefined) continue;
    const body = readFileSync(full);
    const etag = `"${createHash("sha256").update(body).digest("base64url").slice(0, 22)}"`;
    files.set(`${prefix}/${name}`, { body, contentType, etag, immutable: prefix === "/fonts" });
  }
  return files;
}

/**
 * Registers `GET /` (index.html) and `GET /<file>` for the page built into `root` (dist/web). When
 * `root` does not exist (a node built without the page), registers nothing.
 */
export function registerStatic(server: FastifyInstance, root: string): void {
  let files: Map<string, StaticFile>;
  try {
    files = readTree(root);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
    throw error;
  }
  const index = files.get("/index.html");
  if (index !== undefined) files.set("/", index);
  for (const [urlPath, file] of files) {
    server.get(urlPath, (request, reply) => {
      void reply
        .header("content-type", file.contentType)
        .header("etag", file.etag)
        .header("cache-control", file.immutable ? "public, max-age=31536000, immutable" : "no-cache")
        .header("x-content-type-options", "nosniff");
      if (request.headers["if-none-match"] === file.etag) return reply.code(304).send();
      return reply.send(file.body);
    });
  }
}
