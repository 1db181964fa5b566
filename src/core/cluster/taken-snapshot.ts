// A snapshot the node took itself, as the parts of its text (see ClusterState.serializeParts).
import type { Snapshot, SnapshotPart } from "./types.js";

/** A part's text. */
export function partText(part: SnapshotPart): string {
  return typeof part === "string" ? part : part();
}

/** The text of `parts`, joined. */
export function joinParts(parts: readonly SnapshotPart[]): string {
  return parts.map(partText).join("");
}

/**
 * A snapshot of the state whose text is `parts` joined: `data` joins them the first time it is
 * read (sending the snapshot to a follower, a test), so taking a snapshot costs no copy of the
 * state. `data` reads like a plain field (enumerable, cached); `parts` is not enumerable, so the
 * snapshot compares equal to the same snapshot loaded from disk.
 */
export function takenSnapshot(
  fields: Omit<Snapshot, "data" | "parts">,
  parts: readonly SnapshotPart[],
): Snapshot {
  let text: string | null = null;
  const snapshot = { ...fields } as Snapshot;
  Object.defineProperty(snapshot, "data", {
    enumerable: true,
    configurable: true,
    get: () => (text ??= joinParts(parts)),
  });
  Object.defineProperty(snapshot, "parts", { enumerable: false, value: parts });
  return snapshot;
}
