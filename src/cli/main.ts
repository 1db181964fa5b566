#!/usr/bin/env node
// Entry point of the `gavel` command (package.json `bin`): runs the command tree on process.argv.
import { buildProgram } from "./program.js";

const program = buildProgram();
if (process.argv.length <= 2) {
  program.outputHelp();
} else {
  await program.parseAsync(process.argv);
}
