// `gavel --help` must work straight after install and list every subcommand.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { fileURLToPath } from "node:url";

const run = promisify(execFile);
const main = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));

test("gavel --help prints usage", async () => {
  const { stdout } = await run(process.execPath, [main, "--help"]);
  assert.match(stdout, /Usage: gavel/);
  assert.match(stdout, /Commands:/);
});

test("gavel with an unknown subcommand fails with a hint", async () => {
  await assert.rejects(
    run(process.execPath, [main, "no-such-command"]),
    (error: { code: number; stderr: string }) => {
      assert.notEqual(error.code, 0);
      assert.match(error.stderr, /gavel --help/);
      return true;
    },
  );
});
