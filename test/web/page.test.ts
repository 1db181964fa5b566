// The web page in a real browser (Debian's chromium, driven by playwright-core) against a real
// 3-node cluster started with `gavel node`: two bidders outbid each other live, an auction runs to
// its end with the same winner on both pages, and a page whose node is killed carries on from
// another node without missing a bid or showing one twice. Screenshots go to dist/screenshots/.
import assert from "node:assert/strict";
import { existsSync, mkdirSync } from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import type { TestContext } from "node:test";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import type { Browser, Page } from "playwright-core";
import { TestCluster, http, waitFor } from "../node/harness.js";
import type { TestNode } from "../node/harness.js";

const chromiumPath = "/usr/bin/chromium";
const skip = existsSync(chromiumPath)
  ? false
  : `no chromium at ${chromiumPath}; install Debian's (apt-get install -y chromium) to run the browser tests`;
const screenshots = fileURLToPath(new URL("../../screenshots/", import.meta.url));
const password = "correct horse battery";

/** Everything a page logged to its console or threw, for a failing test's message. */
const pageLogs: string[] = [];

describe("the web page", { skip, timeout: 300_000 }, () => {
  let cluster: TestCluster;
  let browser: Browser;
  let seller: string;

  before(async () => {
    cluster = await TestCluster.start([1, 2, 3], "web");
    await cluster.waitForLeader(3, 30_000);
    mkdirSync(screenshots, { recursive: true });
    browser = await chromium.launch({
      executablePath: chromiumPath,
      headless: true,
      // playwright-core gives every launch a fresh, temporary --user-data-dir of its own.
      args: [
        "--no-sandbox",
        "--headless",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    seller = await registerWithPassword(cluster.node(1), "sam");
  });

  after(async () => {
    await browser?.close();
    await cluster?.destroy();
  });

  test("two bidders outbid each other, and each sees the other's bid appear live", async (t) => {
    const ann = await openAs(browser, cluster.node(1), "ann");
    const bob = await openAs(browser, cluster.node(2), "bob");
    try {
      const id = await createAuction(cluster.node(1), seller, {
        title: "Mid-century desk lamp",
        durationMs: 600_000,
      });
      await Promise.all([openRoom(ann, id), openRoom(bob, id)]);
      // A marker in each window shows that what appears later arrived live, not by reloading.
      await Promise.all(
        [ann, bob].map((page) => page.evaluate(() => ((window as { marker?: number }).marker = 1))),
      );
      let expected: number[] = [];
      for (let round = 0; round < 3; round++) {
        for (const [bidder, watcher, name] of [
          [ann, bob, "ann"],
          [bob, ann, "bob"],
        ] as const) {
          // Starting price 25.00, then the fixed increment of 1.00: each field offers the next minimum.
          const amount = 2500 + expected.length * 100;
          await placeBid(bidder, amount);
          expected = [...expected, amount];
          await waitFor(`the other page to show ${amount}`, 10_000, async () =>
            sameList(await historyAmounts(watcher), expected),
          );
          await waitFor(`the other page to show ${name} leading`, 10_000, async () =>
            (await highBidderText(watcher)).includes(`${name} is the high bidder`),
          );
        }
        await waitFor("ann's outbid notice", 10_000, () =>
          ann.getByText("You have been outbid").first().isVisible(),
        );
      }
      for (const page of [ann, bob]) {
        assert.equal(
          await page.evaluate(() => (window as { marker?: number }).marker),
          1,
          "the page never reloaded",
        );
        assert.equal(await connectionMode(page), "live", "updates came over the WebSocket stream");
      }
      assert.match(await highBidderText(bob), /You are the high bidder/);
      assert.match(await highBidderText(ann), /bob is the high bidder/);
      const server = await auctionFromApi(cluster.node(3), id);
      assert.deepEqual(await historyAmounts(ann), server.amounts);
      await screenshot(t, ann, "auction-room.png");
      await bob.goto(`${cluster.node(2).url}/#/cluster`);
      await bob.getByTestId("node").nth(2).waitFor();
      await waitFor("every node alive on the dashboard", 10_000, async () =>
        (await bob.locator(".status-dot.alive").count()) === 3 ? true : undefined,
      );
      await screenshot(t, bob, "dashboard.png");
      await bob.goto(`${cluster.node(2).url}/#/`);
      await bob.getByTestId("countdown").first().waitFor();
      await screenshot(t, bob, "auction-list.png");
    } catch (error) {
      failWithLogs(t, error);
    } finally {
      await Promise.all([ann.context().close(), bob.context().close()]);
    }
  });

  test("the countdown reaches zero and both pages show the same winner", async (t) => {
    const ann = await openAs(browser, cluster.node(1), "cara");
    const bob = await openAs(browser, cluster.node(3), "dan");
    try {
      const id = await createAuction(cluster.node(2), seller, {
        title: "Enamel coffee pot",
        durationMs: 12_000,
        softClose: null,
      });
      await Promise.all([openRoom(ann, id), openRoom(bob, id)]);
      assert.equal(await ann.getByTestId("countdown").first().getAttribute("class").then(urgency), "urgent");
      await placeBid(ann, 2500);
      await placeBid(bob, 2600);
      await waitFor("cara to see dan's bid", 10_000, async () => (await historyAmounts(ann)).length === 2);
      const winners = await Promise.all(
        [ann, bob].map(async (page) => {
          const winner = page.getByTestId("winner");
          await winner.waitFor({ timeout: 30_000 });
          return winner.getAttribute("data-winner");
        }),
      );
      assert.deepEqual(winners, ["dan", "dan"]);
      assert.equal(await ann.getByTestId("countdown").first().textContent(), "Ended");
      assert.match((await bob.getByTestId("result").textContent()) ?? "", /You won!/);
      const server = await auctionFromApi(cluster.node(1), id);
      assert.equal(server.winner, "dan");
      await screenshot(t, ann, "auction-closed.png");
    } catch (error) {
      failWithLogs(t, error);
    } finally {
      await Promise.all([ann.context().close(), bob.context().close()]);
    }
  });

  test("when the node serving a page is killed, the page reconnects to another and shows every bid once", async (t) => {
    const victim = cluster.node(3);
    const ann = await openAs(browser, victim, "erin");
    const bob = await openAs(browser, cluster.node(1), "finn");
    try {
      const id = await createAuction(cluster.node(1), seller, {
        title: "Brass ship's clock",
        durationMs: 600_000,
      });
      await Promise.all([openRoom(ann, id), openRoom(bob, id)]);
      await placeBid(ann, 2500);
      await placeBid(bob, 2600);
      await waitFor("erin to see finn's bid", 10_000, async () => (await historyAmounts(ann)).length === 2);
      assert.equal(await ann.getByTestId("connection").getAttribute("data-node"), "3");

      await victim.kill("SIGKILL");
      // Bids go on while erin's page finds another node; it must pick them up from where it was.
      await placeBid(bob, 2700);
      await placeBid(bob, 3000, { typed: true });
      await waitFor("erin's page to stream from another node", 20_000, async () => {
        const node = await ann.getByTestId("connection").getAttribute("data-node");
        return (await connectionMode(ann)) === "live" && node !== "3" && node !== "" ? node : undefined;
      });
      await placeBid(ann, 3100);
      await placeBid(bob, 3200);

      const server = await auctionFromApi(cluster.node(1), id);
      assert.deepEqual(server.amounts, [2500, 2600, 2700, 3000, 3100, 3200]);
      await waitFor("erin's page to show every bid", 15_000, async () =>
        sameList(await historyAmounts(ann), server.amounts),
      );
      await waitFor("finn's page to show every bid", 15_000, async () =>
        sameList(await historyAmounts(bob), server.amounts),
      );
      assert.equal(await ann.getByTestId("bid-count").textContent(), "6 bids");
      await screenshot(t, ann, "auction-room-after-failover.png");
      // The page of the dead node lives on: its dashboard, fetched from the others, shows the failover.
      await ann.evaluate(() => (location.hash = "#/cluster"));
      await waitFor(
        "the dashboard to show node 3 dead, node 2 leading, and the auction by its title",
        20_000,
        async () => {
          const leader = await ann.getByTestId("leader").textContent();
          const dead = await ann.locator('[data-node="3"].node-dead').count();
          const titled = await ann.getByRole("link", { name: "Brass ship's clock" }).count();
          return leader === "node 2" && dead === 1 && titled === 1 ? true : undefined;
        },
      );
      await screenshot(t, ann, "dashboard-after-failover.png");
    } catch (error) {
      failWithLogs(t, error);
    } finally {
      await Promise.all([ann.context().close(), bob.context().close()]);
    }
  });
});

/** Registers `name` with a password over HTTP (the seller, who needs no window); returns its token. */
async function registerWithPassword(node: TestNode, name: string): Promise<string> {
  const response = await http(`${node.url}/api/users`, { body: { name, password } });
  assert.equal(response.status, 201, JSON.stringify(response.body));
  return response.body["token"] as string;
}

async function createAuction(
  node: TestNode,
  token: string,
  fields: { title: string; durationMs: number; softClose?: null },
): Promise<string> {
  const body = {
    startingPrice: 2500,
    minIncrement: 100,
    description: "Tested in a real browser.",
    ...fields,
  };
  const response = await http(`${node.url}/api/auctions`, { token, body });
  assert.equal(response.status, 201, JSON.stringify(response.body));
  return response.body["id"] as string;
}

/** A fresh browser context (its own storage) with the page served by `node`, registered as `name`. */
async function openAs(browser: Browser, node: TestNode, name: string): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, deviceScaleFactor: 1 });
  const page = await context.newPage();
  page.on("console", (message) => {
    if (message.type() === "error" || message.type() === "warning")
      pageLogs.push(`${name}: ${message.text()}`);
  });
  page.on("pageerror", (error) => pageLogs.push(`${name}: ${error.message}`));
  const response = await page.goto(`${node.url}/#/login`);
  assert.equal(response?.status(), 200, `node ${node.id} serves the page at /`);
  assert.match(response?.headers()["content-type"] ?? "", /^text\/html/);
  await page.getByRole("tab", { name: "Create account" }).click();
  await page.locator('input[name="name"]').fill(name);
  await page.locator('input[name="password"]').fill(password);
  await page.getByTestId("login-submit").click();
  await page.getByTestId("user").getByText(name).waitFor();
  return page;
}

async function openRoom(page: Page, id: string): Promise<void> {
  await page.evaluate((hash) => (location.hash = hash), `#/auctions/${id}`);
  await page.getByTestId("bid-form").waitFor();
  await page.locator('[data-testid="connection"][data-mode="live"]').waitFor({ timeout: 15_000 });
}

/**
 * Bids `amount` (cents): the field must show it as the next minimum, unless `typed`, when it is
 * typed in. Resolves once the page's own history shows the bid; fails at once if it was refused.
 */
async function placeBid(page: Page, amount: number, options: { typed?: boolean } = {}): Promise<void> {
  const input = page.getByTestId("bid-amount");
  const text = (amount / 100).toFixed(2);
  if (options.typed === true) await input.fill(text);
  else
    await waitFor(
      `the field to offer ${text} as the next minimum`,
      10_000,
      async () => (await input.inputValue()) === text,
    );
  const submit = page.getByTestId("bid-submit");
  await submit.click();
  const deadline = Date.now() + 30_000;
  for (;;) {
    const error = page.locator(".form-error");
    if (await error.isVisible()) assert.fail(`the bid of ${text} was refused: ${await error.textContent()}`);
    if ((await historyAmounts(page)).includes(amount) && (await submit.isEnabled())) return;
    if (Date.now() > deadline) assert.fail(`the bid of ${text} was not accepted within 30 s`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The amounts of the room's bid history, oldest first, as the page shows them. */
async function historyAmounts(page: Page): Promise<number[]> {
  const amounts = await page
    .getByTestId("bid-row")
    .evaluateAll((rows) => rows.map((row) => Number((row as HTMLElement).dataset["amount"])));
  return amounts.reverse();
}

async function highBidderText(page: Page): Promise<string> {
  return (await page.getByTestId("high-bidder").textContent()) ?? "";
}

async function connectionMode(page: Page): Promise<string | null> {
  return page.getByTestId("connection").getAttribute("data-mode");
}

function urgency(classes: string | null): string | undefined {
  return ["calm", "soon", "urgent"].find((name) => (classes ?? "").split(" ").includes(name));
}

async function auctionFromApi(node: TestNode, id: string): Promise<{ amounts: number[]; winner?: string }> {
  const response = await http(`${node.url}/api/auctions/${id}?bidsLimit=1000`);
  const bids = response.body["bids"] as { amount: number }[];
  return { amounts: bids.map((bid) => bid.amount), winner: response.body["winner"] as string | undefined };
}

function sameList(actual: number[], expected: number[]): true | undefined {
  return actual.length === expected.length && actual.every((value, index) => value === expected[index])
    ? true
    : undefined;
}

/** Saves a full-page screenshot, by default without the toasts that would hide part of the page. */
async function screenshot(
  t: TestContext,
  page: Page,
  name: string,
  options: { keepToasts?: boolean } = {},
): Promise<void> {
  if (options.keepToasts !== true) {
    for (const close of await page.locator(".toast-close").all()) await close.click().catch(() => undefined);
    await page.getByTestId("toast").first().waitFor({ state: "detached" });
  }
  const file = path.join(screenshots, name);
  await page.screenshot({ path: file, fullPage: true, animations: "disabled" });
  t.diagnostic(`screenshot: ${file}`);
}

function failWithLogs(t: TestContext, error: unknown): never {
  for (const line of pageLogs.slice(-40)) t.diagnostic(`page: ${line}`);
  throw error;
}
