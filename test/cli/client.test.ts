// The `gavel` client commands end to end, as real processes against a real 3-node cluster: users
// and sessions (the token kept in a 0600 file), auctions created, listed, shown, bid on and
// cancelled with amounts typed as "12.50", `--json` documents equal to the API's, discovery by UDP
// beacon, the cluster's status and the operator's drain, and a live watch stopped with Ctrl-C.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, statSync } from "node:fs";
import path from "node:path";
import { http, waitFor } from "../node/harness.js";
import type { TestCluster } from "../node/harness.js";
import { freshConfigDir, gavel, gavelOk, startCluster, startGavel } from "./support.js";

let cluster: TestCluster;
let nodeUrl: string;
const seller = { configDir: freshConfigDir() };
const ann = { configDir: freshConfigDir() };
const bob = { configDir: freshConfigDir() };

before(async () => {
  cluster = await startCluster([1, 2, 3], "cli");
  await cluster.waitForLeader(3, 60_000);
  nodeUrl = cluster.node(1).url;
  await gavelOk(["register", "sam", "--password-stdin", "--node", nodeUrl], {
    ...seller,
    stdin: "sam-secret-1\n",
  });
  await gavelOk(["register", "ann", "--no-password", "--node", cluster.node(2).url], ann);
  await gavelOk(["register", "bob", "--no-password", "--node", cluster.node(3).url], bob);
});

after(() => cluster?.destroy());

function savedConfig(configDir: string): {
  session: { name: string; token: string } | null;
  nodes: string[];
} {
  return JSON.parse(readFileSync(path.join(configDir, "session.json"), "utf8")) as {
    session: { name: string; token: string } | null;
    nodes: string[];
  };
}

async function createLamp(extra: string[] = []): Promise<Record<string, unknown>> {
  const args = ["create", "--title", "Lamp", "--start", "12.50", "--increment", "1.00", "--duration", "10m"];
  return JSON.parse(await gavelOk([...args, ...extra, "--json"], seller)) as Record<string, unknown>;
}

test(
  "register, logout and login keep the session token in a file only the user can read",
  { timeout: 180_000 },
  async () => {
    const saved = savedConfig(seller.configDir);
    assert.equal(saved.session?.name, "sam");
    assert.equal(statSync(path.join(seller.configDir, "session.json")).mode & 0o777, 0o600);
    assert.deepEqual(
      [...saved.nodes].sort(),
      [...cluster.nodes.values()].map((node) => node.url).sort(),
      "every node's URL is learned from GET /api/cluster",
    );
    assert.ok(saved.session !== null);
    const token = saved.session.token;
    assert.equal((await http(`${nodeUrl}/api/me`, { token })).status, 200);
    assert.match(await gavelOk(["logout"], seller), /logged out sam/);
    assert.equal(savedConfig(seller.configDir).session, null);
    await waitFor(
      "the old token to stop working",
      5000,
      async () => (await http(`${nodeUrl}/api/me`, { token })).status === 401,
    );
    const wrong = await gavel(["login", "sam", "--password-stdin"], {
      ...seller,
      stdin: "not-the-password\n",
    });
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /^gavel login: bad-credentials: wrong name or password \(HTTP 401/);
    assert.match(
      await gavelOk(["login", "sam", "--password-stdin"], { ...seller, stdin: "sam-secret-1\n" }),
      /logged in as sam until .* \(in 2[34]h/,
    );
    const taken = await gavel(["register", "sam", "--no-password"], freshConfigDirWithNodes());
    assert.equal(taken.code, 1);
    assert.match(taken.stderr, /name-taken/);
    const noTerminal = await gavel(["register", "tim", "--node", nodeUrl], { configDir: freshConfigDir() });
    assert.equal(noTerminal.code, 1);
    assert.match(noTerminal.stderr, /--password-stdin/);
  },
);

function freshConfigDirWithNodes() {
  return { configDir: freshConfigDir(), env: { GAVEL_NODE: cluster.node(2).url } };
}

test(
  "with no node given or remembered, the CLI finds the cluster by its UDP beacons",
  { timeout: 180_000 },
  async () => {
    const configDir = freshConfigDir();
    const out = await gavelOk(["status", "--discovery-port", String(cluster.discoveryPort)], { configDir });
    assert.match(out, /leader node 3/);
    assert.equal(savedConfig(configDir).nodes.length, 3);
    const nowhere = await gavel(["status", "--discovery-port", "1"], { configDir: freshConfigDir() });
    assert.equal(nowhere.code, 2);
    assert.match(nowhere.stderr, /no node found: pass --node URL or set GAVEL_NODE/);
  },
);

test(
  "create, list, show and bid: 12.50 is 1250 cents, 12.345 is refused, --json equals the API",
  { timeout: 180_000 },
  async () => {
    const created = await createLamp();
    const id = created["id"] as string;
    assert.deepEqual(
      [created["startingPrice"], created["minimumBid"], created["currency"]],
      [1250, 1250, "EUR"],
    );
    const refused = await gavel(
      ["create", "--title", "Bad", "--start", "12.345", "--increment", "1", "--duration", "1m"],
      seller,
    );
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /12\.345 has 3 decimals; amounts have at most two \(cents\)/);

    const listed = await gavelOk(["list"], ann);
    assert.match(listed, new RegExp(`${id}\\s+Lamp\\s+12\\.50 EUR \\(start\\)\\s+0`));
    const listJson: unknown = JSON.parse(await gavelOk(["list", "--json"], ann));
    assert.deepEqual(listJson, (await http(`${nodeUrl}/api/auctions?filter=open&offset=0&limit=20`)).body);

    assert.match(
      await gavelOk(["bid", id, "12.50"], ann),
      /bid 12\.50 EUR on \w+ accepted: you lead at 12\.50 EUR/,
    );
    const odd = await gavel(["bid", id, "12.345"], ann);
    assert.equal(odd.code, 1);
    assert.match(odd.stderr, /at most two \(cents\)/);
    const low = await gavel(["bid", id, "13"], bob);
    assert.equal(low.code, 1);
    assert.match(
      low.stderr,
      /below-minimum: the next bid must be at least 13\.50 EUR, you offered 13\.00 EUR/,
    );
    const own = await gavel(["bid", id, "20"], seller);
    assert.equal(own.code, 1);
    assert.match(own.stderr, /^gavel bid: own-auction: .*\(HTTP 403/);
    const proxy = JSON.parse(await gavelOk(["bid", id, "14", "--max", "20.05", "--json"], bob)) as Record<
      string,
      unknown
    >;
    assert.deepEqual([proxy["amount"], proxy["max"], proxy["leading"]], [1400, 2005, true]);

    const shown: unknown = JSON.parse(await gavelOk(["show", id, "--json"], ann));
    const document = (await http(`${nodeUrl}/api/auctions/${id}`)).body;
    assert.deepEqual(shown, document);
    assert.deepEqual(
      (document["bids"] as { bidder: string; amount: number }[]).map((line) => [line.bidder, line.amount]),
      [
        ["ann", 1250],
        ["bob", 1400],
      ],
    );
    const human = await gavelOk(["show", id], ann);
    assert.match(human, /price\s+14\.00 EUR, high bidder bob/);
    assert.match(human, /next bid\s+at least 15\.00 EUR/);
    assert.match(human, /closes\s+in \d+m/);
    assert.match(await gavelOk(["list", "--mine"], ann), new RegExp(id));
  },
);

test("a seller cancels an auction before its first bid", { timeout: 180_000 }, async () => {
  const id = (await createLamp())["id"] as string;
  assert.match(await gavelOk(["cancel", id], seller), new RegExp(`cancelled auction ${id} "Lamp"`));
  assert.equal((await http(`${nodeUrl}/api/auctions/${id}`)).body["status"], "cancelled");
  const late = await gavel(["bid", id, "20"], ann);
  assert.equal(late.code, 1);
  assert.match(late.stderr, /auction-cancelled/);
});

test(
  "status shows nodes, roles, term and assignments; --json is GET /api/cluster; drain and undrain",
  { timeout: 180_000 },
  async () => {
    const id = (await createLamp())["id"] as string;
    const out = await gavelOk(["status"], ann);
    assert.match(out, /^term \d+, leader node 3, 3 voters \(majority 2\)/);
    assert.match(out, /3\s+leader\s+alive/);
    assert.match(out, new RegExp(`node \\d runs \\d+ open auctions?: .*${id}`));
    assert.doesNotMatch(out, /WARNING/);
    await waitFor("gavel status --json to equal GET /api/cluster", 10_000, async () => {
      const printed: unknown = JSON.parse(await gavelOk(["status", "--json"], ann));
      const document = (await http(`${nodeUrl}/api/cluster`)).body;
      assert.equal((document as { canLoseOne: boolean }).canLoseOne, true);
      try {
        assert.deepEqual(printed, document);
        return true;
      } catch {
        return false;
      }
    });
    assert.match(await gavelOk(["drain", "1"], ann), /node 1 is drained/);
    const drained = (await http(`${nodeUrl}/api/cluster`)).body["nodes"] as {
      id: number;
      drained: boolean;
    }[];
    assert.equal(drained.find((node) => node.id === 1)?.drained, true);
    assert.match(await gavelOk(["status"], ann), /1\s+worker \(drained\)/);
    assert.match(await gavelOk(["undrain", "1"], ann), /node 1 is no longer drained/);
  },
);

test("watch <id> redraws a new bid in place, and Ctrl-C ends it cleanly", { timeout: 180_000 }, async () => {
  const id = (await createLamp())["id"] as string;
  await gavelOk(["bid", id, "12.50"], ann);
  const watch = startGavel(["watch", id, "--display", "live", "--via", "websocket"], ann);
  await watch.waitForOutput(
    "the auction",
    20_000,
    (out) => out.includes("12.50 EUR") && out.includes("Ctrl-C to stop"),
  );
  await waitFor("the watch to subscribe", 10_000, () => watch.stdout.includes("WebSocket stream of http"));
  await gavelOk(["bid", id, "17.25"], bob);
  await watch.waitForOutput("the new bid", 10_000, (out) => /price\s+17\.25 EUR\s+high bidder bob/.test(out));
  assert.match(watch.stdout, /bob\s+17\.25 EUR/, "in the latest bids");
  // eslint-disable-next-line no-control-regex
  assert.match(watch.stdout, /\x1b\[\d+F/, "redrawn in place: the cursor moves back up");
  assert.equal(await watch.interrupt(), 0);
  assert.ok(watch.stdout.endsWith("\x1b[?25h"), "the cursor is shown again");
});

test(
  "watch with no id follows every open auction, one line per change when not on a terminal",
  { timeout: 180_000 },
  async () => {
    const first = (await createLamp())["id"] as string;
    const watch = startGavel(["watch"], ann);
    await watch.waitForOutput(
      "the open auctions",
      20_000,
      (out) => out.includes("watching every open auction live via") && out.includes(first),
    );
    const second = (await createLamp(["--start", "3.00"]))["id"] as string;
    await watch.waitForOutput("the new auction", 10_000, (out) => out.includes(second));
    await gavelOk(["bid", second, "3.10"], bob);
    await watch.waitForOutput("the bid", 10_000, (out) =>
      new RegExp(`${second} "Lamp": price 3\\.10 EUR, bob leads \\(1 bid\\)`).test(out),
    );
    assert.equal(await watch.interrupt(), 0);
  },
);

test(
  "gavel --help lists every client command with a line; each command documents its options",
  { timeout: 180_000 },
  async () => {
    const help = await gavelOk(["--help"], ann);
    for (const name of [
      "register",
      "login",
      "logout",
      "create",
      "list",
      "show",
      "bid",
      "cancel",
      "watch",
      "status",
      "transfer-leadership",
      "drain",
      "undrain",
      "remove-node",
    ]) {
      assert.match(help, new RegExp(`^  ${name} .*\\S`, "m"), name);
    }
    const create = await gavelOk(["create", "--help"], ann);
    for (const option of [
      "--title",
      "--start",
      "--increment",
      "--duration",
      "--closes-at",
      "--reserve",
      "--buy-now",
      "--description",
      "--currency",
      "--no-soft-close",
      "--node",
      "--json",
    ]) {
      assert.ok(create.includes(option), option);
    }
    assert.match(await gavelOk(["bid", "--help"], ann), /--max <amount>/);
    assert.match(await gavelOk(["list", "--help"], ann), /--page <n>/);
    assert.match(await gavelOk(["status", "--help"], ann), /--cluster-key|--json/);
  },
);
