// Snapshot files in a data directory: a locally taken snapshot's data, written on libuv's thread
// pool (a temporary file, fsynced, renamed into place, then the directory fsynced) so the event
// loop never writes megabytes. Nothing here decides what is durable: a file counts only once the
// database's snapshot row names it; the storage deletes the others.
import { closeSync, fsyncSync, openSync, readdirSync, readFileSync, statSync, unlinkSync } from "node:fs";
import { open, rename } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { partText } from "../core/cluster/taken-snapshot.js";
import type { SnapshotPart } from "../core/cluster/types.js";
import { DataDirCorruptError } from "./errors.js";

/** How many characters of the data are encoded and handed to the thread pool at a time: about a millisecond of work. */
const chunkChars = 1 << 20;

/**
 * How a snapshot file is written: flushed to the disk every `syncBytes`, and at most
 * `bytesPerSecond` (about 8 s for 128 MiB).
 */
export const snapshotWritePace = { syncBytes: 2 << 20, bytesPerSecond: 16 << 20 } as const;

/** A snapshot file's name: its index and term, so that two snapshots never share a name. */
export function snapshotFileName(index: number, term: number): string {
  return `snapshot-${index}-${term}.json`;
}

/** The name a snapshot file has while it is being written; never named by the database. */
export function temporaryFileName(name: string): string {
  return `${name}.tmp`;
}

/** Snapshot files and their temporaries, as named above; nothing else in the data dir is touched. */
const snapshotFilePattern = /^snapshot-\d+-\d+\.json(\.tmp)?$/;

/**
 * Writes `data` (UTF-8; the text, or parts that joined are the text) to `dir/name` durably, off
 * the event loop: a temporary file, fsynced, renamed, then the directory fsynced. Returns the file's size in bytes. `stopped` is checked
 * between steps: once it is true the write gives up and leaves a temporary (or unnamed) file,
 * which the next open deletes.
 */
export async function writeSnapshotFile(
  dir: string,
  name: string,
  data: string | readonly SnapshotPart[],
  stopped: () => boolean,
): Promise<number | null> {
  const temporary = join(dir, temporaryFileName(name));
  const handle = await open(temporary, "w");
  let bytes = 0;
  try {
    const startedAt = performance.now();
    let unsynced = 0;
    for (const piece of pieces(data)) {
      if (stopped()) break;
      const written = await writeFully(handle, Buffer.from(piece, "utf8"));
      bytes += written;
      unsynced += written;
      if (unsynced < snapshotWritePace.syncBytes) continue;
      // Flushed and paced as it goes: tens of megabytes of dirty pages flushed at once hold up the
      // WAL's fsync, which every batch of the node waits for. The snapshot is not urgent: the
      // entries it covers are on disk already.
      await handle.datasync();
      unsynced = 0;
      const aheadMs = (bytes / snapshotWritePace.bytesPerSecond) * 1000 - (performance.now() - startedAt);
      if (aheadMs > 0) await new Promise((resolve) => setTimeout(resolve, aheadMs));
    }
    if (stopped()) return null;
    await handle.sync();
  } finally {
    await handle.close();
  }
  if (stopped()) return null;
  await rename(temporary, join(dir, name));
  const directory = await open(dir, "r");
  try {
    await directory.sync();
  } finally {
    await directory.close();
  }
  return bytes;
}

async function writeFully(handle: FileHandle, buffer: Buffer): Promise<number> {
  for (let written = 0; written < buffer.length;) {
    const { bytesWritten } = await handle.write(buffer, written, buffer.length - written);
    written += bytesWritten;
  }
  return buffer.length;
}

/**
 * The text in pieces of about chunkChars, each encoded on its own: parts are grouped (a part is
 * read only when its piece is made, so a taken snapshot's text is never built whole) and long
 * ones cut, never inside a surrogate pair.
 */
function* pieces(data: string | readonly SnapshotPart[]): Generator<string> {
  let group: string[] = [];
  let groupChars = 0;
  for (const item of typeof data === "string" ? [data] : data) {
    const part = partText(item);
    for (let offset = 0; offset < part.length;) {
      let end = Math.min(part.length, offset + chunkChars - groupChars);
      if (end < part.length && isHighSurrogate(part.charCodeAt(end - 1))) end++;
      group.push(offset === 0 && end === part.length ? part : part.slice(offset, end));
      groupChars += end - offset;
      offset = end;
      if (groupChars >= chunkChars) {
        yield group.join("");
        group = [];
        groupChars = 0;
      }
    }
  }
  if (groupChars > 0) yield group.join("");
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

/**
 * Reads the snapshot file the database names; a missing, short or long file is corruption: the
 * database promises it was complete and on disk before it named it.
 */
export function readSnapshotFile(dir: string, name: string, bytes: number, database: string): string {
  const path = join(dir, name);
  let buffer: Buffer;
  try {
    buffer = readFileSync(path);
  } catch (error) {
    throw new DataDirCorruptError(
      database,
      `the snapshot file ${path} it names cannot be read (${errorCode(error)})`,
      { cause: error },
    );
  }
  if (buffer.length !== bytes) {
    throw new DataDirCorruptError(
      database,
      `the snapshot file ${path} it names holds ${buffer.length} bytes, not the ${bytes} written`,
    );
  }
  return buffer.toString("utf8");
}

/** Throws DataDirCorruptError unless the named snapshot file is there with its recorded size. */
export function checkSnapshotFile(dir: string, name: string, bytes: number, database: string): void {
  const path = join(dir, name);
  let size: number;
  try {
    size = statSync(path).size;
  } catch (error) {
    throw new DataDirCorruptError(
      database,
      `the snapshot file ${path} it names cannot be read (${errorCode(error)})`,
      { cause: error },
    );
  }
  if (size !== bytes) {
    throw new DataDirCorruptError(
      database,
      `the snapshot file ${path} it names holds ${size} bytes, not the ${bytes} written`,
    );
  }
}

/**
 * Deletes every snapshot file and temporary in `dir` but `keep`: writes a crash cut short, and
 * files replaced by a later snapshot whose row committed. Then fsyncs the directory.
 */
export function deleteUnnamedSnapshotFiles(dir: string, keep: string | null): string[] {
  const deleted = readdirSync(dir).filter((name) => snapshotFilePattern.test(name) && name !== keep);
  for (const name of deleted) unlinkSync(join(dir, name));
  if (deleted.length > 0) {
    const fd = openSync(dir, "r");
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
  return deleted;
}

export function errorCode(error: unknown): string {
  if (error instanceof Error && "code" in error && typeof error.code === "string") return error.code;
  return String(error);
}
