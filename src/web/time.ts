// Durations and moments as the page shows them. Pure: the caller passes the time.

/** "2d 4h", "3h 05m", "4:07", "0:09"; never negative. */
export function formatCountdown(remainingMs: number): string {
  const totalSeconds = Math.max(0, Math.ceil(remainingMs / 1000));
  const days = Math.floor(totalSeconds / 86_400);
  const hours = Math.floor((totalSeconds % 86_400) / 3600);
  const minutes = Math.floor((totalSeconds % 3600) / 60);
  const seconds = totalSeconds % 60;
  if (days > 0) return `${days}d ${hours}h`;
  if (hours > 0) return `${hours}h ${String(minutes).padStart(2, "0")}m`;
  return `${minutes}:${String(seconds).padStart(2, "0")}`;
}

/** How pressing the time left is: "calm", "soon" (under 5 minutes), "urgent" (under 30 s). */
export function urgencyOf(remainingMs: number): "calm" | "soon" | "urgent" {
  if (remainingMs <= 30_000) return "urgent";
  if (remainingMs <= 300_000) return "soon";
  return "calm";
}

/** "14:03:27" in the viewer's time zone. */
export function formatClock(atMs: number): string {
  const date = new Date(atMs);
  return [date.getHours(), date.getMinutes(), date.getSeconds()]
    .map((part) => String(part).padStart(2, "0"))
    .join(":");
}

/** "just now", "12 s ago", "4 min ago", "3 h ago", or the date. */
export function formatAgo(atMs: number, nowMs: number): string {
  const seconds = Math.round((nowMs - atMs) / 1000);
  if (seconds < 5) return "just now";
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)} h ago`;
  return new Date(atMs).toLocaleDateString();
}
