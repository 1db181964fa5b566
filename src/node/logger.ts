// Structured JSON logs (pino). Adapters take the narrow Logger type so tests can pass a silent or
// recording logger; the node binds its id and term to every line.
import { pino } from "pino";
import type { Logger as PinoLogger } from "pino";

/** What adapters need of a logger: pino's leveled methods, `(context, message)`. */
export type Logger = Pick<PinoLogger, "debug" | "info" | "warn" | "error" | "child">;

/** Fields that change while the process runs (the node's current term), added to every line. */
export const logContext: { term?: number } = {};

/** A logger that writes JSON lines to stderr at `level`, with the current term on every line. */
export function createLogger(level: string, bindings: Record<string, unknown> = {}): Logger {
  return pino(
    { level, base: bindings, timestamp: pino.stdTimeFunctions.isoTime, mixin: () => ({ ...logContext }) },
    pino.destination(2),
  );
}

/** A logger that drops everything (tests). */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
