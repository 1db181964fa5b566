// What the CLI remembers between runs: the session (user name, token, expiry) and the API URLs of
// the cluster's nodes from the last successful call. One JSON file in the user's config directory,
// written atomically with mode 0600 (it holds a bearer token); never logged, never printed.
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import path from "node:path";
import { z } from "zod";

/** Where the file lives: GAVEL_CONFIG_DIR, else $XDG_CONFIG_HOME/gavel, else ~/.config/gavel. */
export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env["GAVEL_CONFIG_DIR"]) return path.resolve(env["GAVEL_CONFIG_DIR"]);
  const base = env["XDG_CONFIG_HOME"] ? env["XDG_CONFIG_HOME"] : path.join(homedir(), ".config");
  return path.join(base, "gavel");
}

const storedSchema = z.object({
  version: z.literal(1),
  session: z
    .object({ name: z.string(), token: z.string(), expiresAt: z.number().nullable() })
    .nullable()
    .default(null),
  nodes: z.array(z.string()).max(1000).default([]),
});

export type StoredConfig = z.infer<typeof storedSchema>;
export type Session = NonNullable<StoredConfig["session"]>;

const empty = (): StoredConfig => ({ version: 1, session: null, nodes: [] });

/** The remembered session and nodes, read once per command and written back on change. */
export class ConfigStore {
  readonly file: string;

  constructor(readonly dir: string = configDir()) {
    this.file = path.join(dir, "session.json");
  }

  /** The stored config; an absent file is empty, an unreadable one is reported and treated as empty. */
  load(warn: (line: string) => void = () => undefined): StoredConfig {
    let text: string;
    try {
      text = readFileSync(this.file, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT")
        warn(`cannot read ${this.file}: ${String(error)}`);
      return empty();
    }
    try {
      const parsed = storedSchema.safeParse(JSON.parse(text));
      if (parsed.success) return parsed.data;
      warn(`ignoring ${this.file}: not a gavel config (${parsed.error.issues[0]?.message ?? "invalid"})`);
    } catch (error) {
      warn(`ignoring ${this.file}: ${(error as Error).message}`);
    }
    return empty();
  }

  /** Writes `config` atomically (temporary file, then rename), readable by the user only. */
  save(config: StoredConfig): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const temporary = `${this.file}.${process.pid}.partial`;
    writeFileSync(temporary, JSON.stringify(config, null, 2) + "\n", { mode: 0o600 });
    chmodSync(temporary, 0o600);
    renameSync(temporary, this.file);
  }

  /** Loads, changes and saves in one step. */
  update(change: (config: StoredConfig) => void): StoredConfig {
    const config = this.load();
    change(config);
    this.save(config);
    return config;
  }
}
