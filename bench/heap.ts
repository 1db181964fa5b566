// The heap after full collections, for the in-process benches that weigh what objects hold.
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

setFlagsFromString("--expose-gc");
const collect = runInNewContext("gc") as () => void;

/** Bytes of heap in use after two full collections. */
export function heapUsed(): number {
  collect();
  collect();
  return process.memoryUsage().heapUsed;
}
