// The `gavel` command tree. Each subcommand parses its flags into a validated config and starts
// the requested part; this layer is the only one that reads process.argv and process.env.
import { Command } from "commander";
import { createRequire } from "node:module";
import { nodeCommand } from "./node-command.js";
import { backupCommand } from "./backup-command.js";
import { demoCommand } from "./demo-command.js";
import { clientCommands } from "./client/index.js";

const require = createRequire(import.meta.url);
const { version } = require("../../../package.json") as { version: string };

/** Builds the command tree; tests check its usage text. */
export function buildProgram(): Command {
  const program = new Command();
  program
    .name("gavel")
    .description(
      "A distributed auction system: equal nodes, the highest-ID node leads, bids survive failures.",
    )
    .version(version, "-v, --version", "print the version")
    .showHelpAfterError("(run gavel --help for usage)")
    .helpCommand(true);
  program.addCommand(nodeCommand());
  program.addCommand(demoCommand());
  program.addCommand(backupCommand());
  for (const command of clientCommands()) program.addCommand(command);
  return program;
}
