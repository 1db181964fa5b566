// The client subcommands of `gavel`, in the order `gavel --help` lists them: users, auctions and
// bids, the live watch, then the cluster's status and the operator's commands.
import type { Command } from "commander";
import { bidCommand, cancelCommand, createCommand, listCommand, showCommand } from "./auction-commands.js";
import {
  drainCommand,
  removeNodeCommand,
  statusCommand,
  transferLeadershipCommand,
  undrainCommand,
} from "./cluster-commands.js";
import { loginCommand, logoutCommand, registerCommand } from "./user-commands.js";
import { watchCommand } from "./watch/watch-command.js";

export function clientCommands(): Command[] {
  return [
    registerCommand(),
    loginCommand(),
    logoutCommand(),
    createCommand(),
    listCommand(),
    showCommand(),
    bidCommand(),
    cancelCommand(),
    watchCommand(),
    statusCommand(),
    transferLeadershipCommand(),
    drainCommand(),
    undrainCommand(),
    removeNodeCommand(),
  ];
}
