// `gavel watch [<id>]`: one auction, or every open one, live. The state comes from HTTP, then live
// news from the nodes' multicast updates where this host can hear them (checked against the API
// every few seconds: if multicast stays silent while the auction moves on, the watch switches to
// the WebSocket stream), else from the WebSocket stream, which follows failover by itself. On a
// terminal the picture is redrawn in place; otherwise each change is one line (or JSON with --json).
import { Command, InvalidArgumentError, Option } from "commander";
import type { UpdateReceiver } from "../../../client/update-receiver.js";
import type { AuctionUpdate } from "../../../net/update-schema.js";
import { ClientContext, runClient, withConnectionOptions } from "../context.js";
import type { ConnectionFlags } from "../context.js";
import { ApiProblemError, ClientError } from "../errors.js";
import { formatClock, formatMoney, formatRelative } from "../money.js";
import { outcomeText } from "../output.js";
import { auctionDocumentSchema, auctionListSchema, expectDocument } from "../types.js";
import type { AuctionSummary } from "../types.js";
import { Board } from "./board.js";
import type { Applied, StreamAuctionEvent } from "./board.js";
import {
  multicastInterfaceFor,
  multicastWatchDefaults,
  refusedByKeys,
  startMulticast,
} from "./multicast-source.js";
import { auctionFrame, LiveScreen, overviewFrame } from "./screen.js";
import { StreamSource } from "./stream-source.js";

interface WatchFlags extends ConnectionFlags {
  via: "auto" | "multicast" | "websocket";
  display: "auto" | "live" | "lines";
  multicastGroup: string;
  multicastPort: number;
  bids: number;
}

export const watchDefaults = {
  /** How often the multicast path is checked against the API, in ms. */
  checkIntervalMs: 4000,
  /** How often the live picture is redrawn (the countdown), in ms. */
  redrawIntervalMs: 250,
  /** A bid's details are fetched this long after the news of it, so that a burst costs one read. */
  detailDelayMs: 150,
  /** A notice stays on screen this long, in ms. */
  noticeMs: 15_000,
} as const;

function wholeNumber(what: string, max: number) {
  return (value: string): number => {
    const parsed = Number(value);
    if (!Number.isSafeInteger(parsed) || parsed < 1 || parsed > max)
      throw new InvalidArgumentError(`${what} is a whole number from 1 to ${max}`);
    return parsed;
  };
}

export function watchCommand(): Command {
  const command = new Command("watch")
    .summary("follow one auction, or all open ones, live in the terminal")
    .description(
      "Follow one auction (or every open auction) live: price, high bidder, countdown and latest bids, redrawn in place. Live news comes by UDP multicast where this host can hear the nodes' updates (checked against the API), else by the WebSocket stream, which moves to another node when its node dies. Ctrl-C stops.",
    )
    .argument("[id]", "the auction to follow (default: every open auction)")
    .addOption(
      new Option(
        "--via <source>",
        "where live news comes from: multicast if it works, else the WebSocket (auto)",
      )
        .choices(["auto", "multicast", "websocket"])
        .default("auto"),
    )
    .addOption(
      new Option(
        "--display <mode>",
        "live: redraw in place; lines: one line per change; auto: live on a terminal",
      )
        .choices(["auto", "live", "lines"])
        .default("auto"),
    )
    .addOption(
      new Option("--multicast-group <address>", "the nodes' multicast group of auction updates")
        .env("GAVEL_MULTICAST_GROUP")
        .default(multicastWatchDefaults.group),
    )
    .addOption(
      new Option("--multicast-port <n>", "the UDP port of that group")
        .env("GAVEL_MULTICAST_PORT")
        .default(multicastWatchDefaults.port)
        .argParser(wholeNumber("a UDP port", 65_535)),
    )
    .addOption(
      new Option("--bids <n>", "how many of the latest bids to show")
        .default(8)
        .argParser(wholeNumber("--bids", 50)),
    );
  withConnectionOptions(command, { json: "print each change as one JSON line: { at, auction }" });
  return command.action(async (id: string | undefined, flags: WatchFlags) => {
    await runClient("watch", async () => {
      const watch = new Watch(new ClientContext("watch", flags), flags, id ?? null);
      await watch.run();
    });
  });
}

type Output = { kind: "live"; screen: LiveScreen } | { kind: "lines" } | { kind: "json" };

class Watch {
  private readonly board: Board;
  private readonly output: Output;
  private source = "HTTP";
  private notice: { text: string; untilMs: number } | null = null;
  private receiver: UpdateReceiver | null = null;
  private stream: StreamSource | null = null;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly fetching = new Map<string, Promise<void>>();
  private readonly detailTimers = new Map<string, NodeJS.Timeout>();
  /** The version each auction reached through multicast (or the first HTTP read). */
  private readonly multicastVersions = new Map<string, number>();
  /** Versions the API showed at the last check that multicast had not delivered yet. */
  private overdue = new Map<string, number>();
  private stopped = false;
  /** Changes are reported (lines, JSON) once the first state is loaded and announced. */
  private reporting = false;

  constructor(
    private readonly context: ClientContext,
    private readonly flags: WatchFlags,
    private readonly only: string | null,
  ) {
    this.board = new Board(only, flags.bids);
    const live = flags.display === "live" || (flags.display === "auto" && process.stdout.isTTY === true);
    if (flags.json === true) this.output = { kind: "json" };
    else if (live) this.output = { kind: "live", screen: new LiveScreen(process.stdout) };
    else this.output = { kind: "lines" };
  }

  /** Loads the state, starts the live source and draws until SIGINT or SIGTERM. */
  async run(): Promise<void> {
    const stopped = new Promise<void>((resolve) => {
      const stop = () => {
        this.stop();
        resolve();
      };
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
    });
    await this.context.connect();
    await this.load();
    const answering = this.context.nodes.all()[0]!;
    if (this.flags.via !== "websocket") await this.startMulticast(answering);
    if (this.receiver === null) this.startStream();
    if (this.output.kind === "live") {
      const screen = this.output.screen;
      screen.start();
      process.stdout.on("resize", () => {
        screen.reset();
        this.render();
      });
      this.timers.push(setInterval(() => this.render(), watchDefaults.redrawIntervalMs));
    } else {
      if (this.output.kind === "lines") {
        const what = this.only === null ? "every open auction" : `auction ${this.only}`;
        this.context.out(`watching ${what} live via ${this.source}`);
      }
      for (const watched of this.board.auctions.values()) this.report(undefined, watched.facts);
    }
    this.reporting = true;
    this.render();
    await stopped;
  }

  private stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    for (const timer of [...this.timers, ...this.detailTimers.values()]) clearTimeout(timer);
    this.stream?.close();
    void this.receiver?.close();
    if (this.output.kind === "live") {
      this.render();
      this.output.screen.stop();
    }
    // Fetches in flight would keep the process up for their timeout: the watch is over.
    process.exit(0);
  }

  /** The first state over HTTP: the auction, or every open one. */
  private async load(): Promise<void> {
    if (this.only !== null) {
      await this.fetchAuction(this.only, true);
      if (!this.board.auctions.has(this.only))
        throw new ClientError("api-problem", `no auction ${this.only}`);
    } else {
      await this.fetchOpenList();
    }
    for (const [id, watched] of this.board.auctions) this.multicastVersions.set(id, watched.facts.version);
  }

  private async fetchOpenList(): Promise<Map<string, number>> {
    const response = await this.context.api.send({
      method: "GET",
      path: "/api/auctions?filter=open&limit=200",
      retry: "idempotent",
      what: "listing open auctions",
    });
    const list = expectDocument(auctionListSchema, response.body, "auction list");
    const versions = new Map<string, number>();
    for (const facts of list.items) {
      versions.set(facts.id, facts.version);
      this.apply(facts.id, () => this.board.snapshot(facts));
    }
    return versions;
  }

  /**
   * Reads an auction (with its latest bids when it is the one watched) and applies it. Reads of one
   * auction never overlap. A 404 in the overview means another cluster's auction (multicast).
   */
  private fetchAuction(auctionId: string, failLoudly = false): Promise<void> {
    const running = this.fetching.get(auctionId);
    if (running !== undefined) return running;
    const read = this.readAuction(auctionId)
      .catch((error: unknown) => {
        if (error instanceof ApiProblemError && error.status === 404 && this.only === null) {
          this.board.forget(auctionId, true);
          return;
        }
        if (failLoudly) throw error;
        this.say(`could not read auction ${auctionId}: ${(error as Error).message}`);
      })
      .finally(() => this.fetching.delete(auctionId));
    this.fetching.set(auctionId, read);
    return read;
  }

  private async readAuction(auctionId: string): Promise<void> {
    const path = `/api/auctions/${encodeURIComponent(auctionId)}`;
    const kept = this.board.bidsKept;
    const send = (query: string) =>
      this.context.api.send({
        method: "GET",
        path: `${path}${query}`,
        retry: "idempotent",
        what: `reading auction ${auctionId}`,
      });
    if (this.only === null) {
      const response = await send("?bidsLimit=0");
      const auction = expectDocument(auctionDocumentSchema, response.body, "auction");
      this.apply(auctionId, () => this.board.snapshot(auction));
      return;
    }
    const guess = Math.max(0, (this.board.auctions.get(auctionId)?.facts.bidCount ?? 0) - kept);
    let auction = expectDocument(
      auctionDocumentSchema,
      (await send(`?bidsOffset=${guess}&bidsLimit=${kept}`)).body,
      "auction",
    );
    if (auction.bidsTotal > guess + kept) {
      const offset = auction.bidsTotal - kept;
      auction = expectDocument(
        auctionDocumentSchema,
        (await send(`?bidsOffset=${offset}&bidsLimit=${kept}`)).body,
        "auction",
      );
    }
    this.apply(auctionId, () => this.board.snapshot(auction, auction.bids));
  }

  /** Fetches an auction's details a little later (once for a burst of news). */
  private detailsSoon(auctionId: string): void {
    if (this.detailTimers.has(auctionId) || this.stopped) return;
    const timer = setTimeout(() => {
      this.detailTimers.delete(auctionId);
      void this.fetchAuction(auctionId);
    }, watchDefaults.detailDelayMs);
    this.detailTimers.set(auctionId, timer);
  }

  /** Applies news through `change`, reports what changed, and fetches what the news could not tell. */
  private apply(auctionId: string, change: () => Applied): Applied {
    const before = this.board.auctions.get(auctionId)?.facts;
    const applied = change();
    const after = this.board.auctions.get(auctionId)?.facts;
    if (applied === "unknown" || applied === "gap") void this.fetchAuction(auctionId);
    if (this.reporting && after !== undefined && after.version !== before?.version)
      this.report(before, after);
    this.render();
    return applied;
  }

  private async startMulticast(answering: string): Promise<void> {
    const interfaceAddress = multicastInterfaceFor(answering);
    const where = `${this.flags.multicastGroup}:${this.flags.multicastPort}`;
    if (interfaceAddress === null) {
      if (this.flags.via === "multicast")
        throw new ClientError(
          "invalid-input",
          `this host is not on the subnet of ${answering}: multicast cannot reach it`,
        );
      return;
    }
    try {
      this.receiver = await startMulticast(
        {
          group: this.flags.multicastGroup,
          port: this.flags.multicastPort,
          interfaceAddress,
          keys: this.context.keys,
          clusterName: this.flags.cluster,
          httpUrls: this.context.nodes.all(),
        },
        {
          update: (update) => this.onUpdate(update),
          caughtUp: (auction) => {
            const parsed = auctionDocumentSchema.safeParse(auction);
            if (!parsed.success) return;
            this.noteMulticast(parsed.data.id, parsed.data.version);
            this.apply(parsed.data.id, () => this.board.snapshot(parsed.data));
          },
        },
      );
    } catch (error) {
      if (this.flags.via === "multicast") throw error;
      this.say(`cannot join multicast ${where} (${(error as Error).message}); using the WebSocket stream`);
      return;
    }
    this.source = `multicast ${where}`;
    this.timers.push(setInterval(() => void this.checkMulticast(), watchDefaults.checkIntervalMs));
  }

  private onUpdate(update: AuctionUpdate): void {
    if (!this.board.wants(update.auctionId)) return;
    this.noteMulticast(update.auctionId, update.version);
    const applied = this.apply(update.auctionId, () => this.board.update(update));
    // An update has the facts, not the bid lines or the next minimum: read those for the one watched.
    if (applied !== "ignored" && this.only !== null) this.detailsSoon(update.auctionId);
  }

  private noteMulticast(auctionId: string, version: number): void {
    this.multicastVersions.set(auctionId, Math.max(version, this.multicastVersions.get(auctionId) ?? 0));
  }

  /**
   * Compares multicast with the API: a version the API showed at the previous check that multicast
   * has still not delivered means updates do not reach us, and the watch moves to the WebSocket.
   */
  private async checkMulticast(): Promise<void> {
    if (this.receiver === null || this.stopped) return;
    if (refusedByKeys(this.receiver)) {
      return this.fallBack("updates are signed with a key this command was not given (--cluster-key)");
    }
    const missed = [...this.overdue].filter(
      ([id, version]) => (this.multicastVersions.get(id) ?? 0) < version,
    );
    if (missed.length > 0) return this.fallBack("updates do not arrive here");
    let versions: Map<string, number>;
    try {
      if (this.only === null) versions = await this.fetchOpenList();
      else {
        await this.fetchAuction(this.only);
        versions = new Map([[this.only, this.board.version(this.only) ?? 0]]);
      }
    } catch {
      return;
    }
    this.overdue = new Map(
      [...versions].filter(([id, version]) => (this.multicastVersions.get(id) ?? 0) < version),
    );
  }

  private fallBack(reason: string): void {
    if (this.receiver === null || this.stopped) return;
    void this.receiver.close();
    this.receiver = null;
    this.say(`multicast: ${reason}; switched to the WebSocket stream`);
    this.startStream();
  }

  private startStream(): void {
    const token = this.sessionToken();
    this.source = "the WebSocket stream";
    this.stream = new StreamSource(
      { urls: () => this.context.nodes.all(), auctions: this.only === null ? "all" : [this.only], token },
      {
        event: (event) => this.onStreamEvent(event),
        subscribed: (nodeUrl, resumed) => {
          this.source = `the WebSocket stream of ${nodeUrl}`;
          if (this.output.kind !== "live") {
            this.context.warn(
              `live from the WebSocket stream of ${nodeUrl}${resumed ? " (resumed where it stopped)" : ""}`,
            );
          }
          // Anything between the first read and the subscription: read it again (versions dedupe).
          if (this.only !== null) void this.fetchAuction(this.only);
          else void this.fetchOpenList().catch(() => undefined);
        },
        resync: () => {
          if (this.only !== null) void this.fetchAuction(this.only);
          else void this.fetchOpenList().catch(() => undefined);
        },
        status: (line) => {
          if (line !== null) this.say(line);
          else this.render();
        },
      },
    );
    this.stream.start();
  }

  private onStreamEvent(event: StreamAuctionEvent): void {
    if (event.type === "outbid") {
      const facts = this.board.auctions.get(event.auctionId)?.facts;
      this.say(
        `you were outbid on ${facts?.title ?? event.auctionId}: ${event.highBidder} leads at ${formatMoney(event.price, facts?.currency)}`,
      );
      return;
    }
    const applied = this.apply(event.auctionId, () => this.board.streamEvent(event));
    // The next minimum depends on the increment rule: read it again for the one watched.
    if (applied !== "ignored" && this.only !== null && event.type === "bid")
      this.detailsSoon(event.auctionId);
  }

  private sessionToken(): string | undefined {
    const session = this.context.config.session;
    if (session === null || (session.expiresAt !== null && session.expiresAt <= Date.now())) return undefined;
    return session.token;
  }

  /** A notice: on the live screen for a while, else one line on stderr. */
  private say(text: string): void {
    if (this.output.kind === "live") {
      this.notice = { text, untilMs: Date.now() + watchDefaults.noticeMs };
      this.render();
    } else {
      this.context.warn(text);
    }
  }

  /** One line (or JSON line) per visible change, when not drawing live. */
  private report(before: AuctionSummary | undefined, after: AuctionSummary): void {
    if (this.output.kind === "json") {
      this.context.out(JSON.stringify({ at: Date.now(), auction: after }));
    } else if (this.output.kind === "lines") {
      const line = this.describe(before, after);
      if (line !== null) this.context.out(line);
    }
  }

  /** What changed from `before` to `after` (everything, for a first sight), or null if nothing shown did. */
  private describe(before: AuctionSummary | undefined, after: AuctionSummary): string | null {
    const nowMs = Date.now();
    const money = (cents: number | null) => formatMoney(cents, after.currency);
    const name = `${formatClock(nowMs, nowMs)} ${after.id} "${after.title}"`;
    const standing =
      after.price === null
        ? `no bids, starts at ${money(after.startingPrice)}`
        : `price ${money(after.price)}, ${after.highBidder} leads (${after.bidCount} bid${after.bidCount === 1 ? "" : "s"})`;
    const ended = outcomeText(after);
    if (before === undefined) {
      return `${name}: ${standing}; ${ended ?? `closes ${formatRelative(after.closesAt, nowMs)}`}`;
    }
    const changes: string[] = [];
    if (
      after.bidCount !== before.bidCount ||
      after.price !== before.price ||
      after.highBidder !== before.highBidder
    )
      changes.push(standing);
    if (after.closesAt > before.closesAt)
      changes.push(
        `extended: closes ${formatRelative(after.closesAt, nowMs)} (${formatClock(after.closesAt, nowMs)})`,
      );
    if (ended !== null && ended !== outcomeText(before)) changes.push(ended);
    return changes.length === 0 ? null : `${name}: ${changes.join("; ")}`;
  }

  private render(): void {
    if (this.output.kind !== "live") return;
    const nowMs = Date.now();
    if (this.notice !== null && this.notice.untilMs < nowMs) this.notice = null;
    const frameContext = {
      source: this.source,
      nowMs,
      style: this.context.style,
      rows: this.output.screen.rows,
      notice: this.notice?.text ?? null,
    };
    const lines =
      this.only === null
        ? overviewFrame(this.board, frameContext)
        : auctionFrame(this.board.auctions.get(this.only), this.only, frameContext);
    this.output.screen.draw(lines);
  }
}
