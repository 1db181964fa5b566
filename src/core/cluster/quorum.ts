// Majority arithmetic over a configuration's voters. Pure functions of their arguments.
import type { ClusterConfig, LogIndex, NodeId } from "./types.js";

export function votersOf(config: ClusterConfig): NodeId[] {
  return config.members.filter((member) => member.voter).map((member) => member.id);
}

/** How many voters make a majority. */
export function majority(voterCount: number): number {
  return Math.floor(voterCount / 2) + 1;
}

/** The largest index that a majority of voters have matched (0 if there are no voters). */
export function majorityMatch(voters: readonly NodeId[], matchOf: (id: NodeId) => LogIndex): LogIndex {
  if (voters.length === 0) return 0;
  const matches = voters.map(matchOf).sort((a, b) => b - a);
  return matches[majority(voters.length) - 1]!;
}

/** Whether the granted votes among `voters` reach a majority. */
export function hasMajority(voters: readonly NodeId[], granted: (id: NodeId) => boolean): boolean {
  let count = 0;
  for (const id of voters) if (granted(id)) count++;
  return count >= majority(voters.length);
}

/** The middle value (the mean of the two middle ones for an even count); undefined for none. */
export function median(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1]! + sorted[middle]!) / 2;
}
