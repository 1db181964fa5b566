// `gavel backup --node URL <file>`: asks a node for a consistent snapshot of the cluster's state
// (confirmed with the leader, so it holds every acknowledged write) and writes it to a file,
// atomically (a temporary file renamed into place). `gavel node --restore <file>` reads it.
import { Command, Option } from "commander";
import { renameSync, writeFileSync } from "node:fs";
import { parseBackup } from "../node/recovery.js";

interface BackupFlags {
  node: string;
  clusterKey?: string;
}

export function backupCommand(): Command {
  return new Command("backup")
    .description(
      "write a consistent snapshot of the cluster's state to <file> (restore it with gavel node --restore)",
    )
    .argument("<file>", "where to write the backup")
    .addOption(
      new Option("--node <url>", "the API URL of any node")
        .env("GAVEL_NODE")
        .default("http://127.0.0.1:8080"),
    )
    .addOption(
      new Option(
        "--cluster-key <keys>",
        "the cluster key, if the cluster has one (the first of a comma-separated list)",
      ).env("GAVEL_CLUSTER_KEY"),
    )
    .action(async (file: string, flags: BackupFlags) => {
      process.exitCode = await backup(file, flags);
    });
}

async function backup(file: string, flags: BackupFlags): Promise<number> {
  const url = `${flags.node.replace(/\/+$/, "")}/api/admin/backup`;
  const headers: Record<string, string> = {};
  const key = flags.clusterKey?.split(",")[0]?.trim();
  if (key) headers["authorization"] = `Bearer ${key}`;
  let body: unknown;
  try {
    const response = await fetch(url, { headers, signal: AbortSignal.timeout(60_000) });
    body = await response.json();
    if (!response.ok) {
      const detail = (body as { detail?: string }).detail ?? response.statusText;
      process.stderr.write(`gavel backup: ${url} answered ${response.status}: ${detail}\n`);
      return 1;
    }
  } catch (error) {
    process.stderr.write(`gavel backup: cannot reach ${url}: ${(error as Error).message}\n`);
    return 1;
  }
  const checked = parseBackup(body);
  const temporary = `${file}.partial`;
  writeFileSync(temporary, JSON.stringify(checked));
  renameSync(temporary, file);
  const auctions = (JSON.parse(checked.state) as { auctions: unknown[] }).auctions.length;
  process.stdout.write(
    `wrote ${file}: cluster ${checked.clusterName} (${checked.clusterId}) at index ${checked.appliedIndex}, ${auctions} auctions\n`,
  );
  return 0;
}
