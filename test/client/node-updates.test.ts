// Multicast updates from a real keyed cluster: three nodes in this process (their own data dirs,
// TCP, UDP discovery on 127.255.255.255, HTTP APIs, all on 127.0.0.1), publishing to a random port
// of 239.255.77.1 pinned to 127.0.0.1. A receiver sees every update of a run of bids, in order,
// from the auction's owner; a second one, fed through a relay that loses one datagram, detects the
// gap and catches up over HTTP; a receiver with the wrong key accepts nothing. And what a node
// logs of its keys at start: a loud warning without any, key ids (never keys) with them. And a key
// rotation, live on every node, under a stream of bids: no election, nothing refused, nothing lost.
import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import type { Socket } from "node:dgram";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { HttpApi } from "../../src/api/http-api.js";
import { UpdateReceiver } from "../../src/client/update-receiver.js";
import type { AuctionUpdate, CatchUp, UpdateReceiverOptions } from "../../src/client/update-receiver.js";
import { defaultConfig } from "../../src/core/config.js";
import { keyIdOf } from "../../src/net/cluster-key.js";
import { InvalidClusterKeyError } from "../../src/net/errors.js";
import { GavelNode } from "../../src/node/gavel-node.js";
import { silentLogger } from "../../src/node/logger.js";
import { recordingLogger } from "../net/support.js";
import { freeUdpPort, http, waitFor } from "../node/harness.js";

const group = "239.255.77.1";
const key = "node-updates-key-4b1d9e0c27f35a86";
const otherKey = "node-updates-key-other-9a8b7c6d5e4f";
const newKey = "node-updates-key-new-0f1e2d3c4b5a6978";

interface Member {
  node: GavelNode;
  api: HttpApi;
  dataDir: string;
}

async function startMember(id: number, clusterName: string, discoveryPort: number, multicastPort: number) {
  const dataDir = mkdtempSync(path.join(tmpdir(), `gavel-updates-${id}-`));
  const logger = silentLogger();
  let node: GavelNode | null = null;
  const api = await HttpApi.start(() => node, { host: "127.0.0.1", port: 0, logger });
  node = await GavelNode.start({
    nodeId: id,
    host: "127.0.0.1",
    port: 0,
    httpUrl: api.url,
    discoveryPort,
    dataDir,
    config: { ...defaultConfig(), clusterName, expect: 3 },
    logger,
    keys: [key],
    multicastGroup: group,
    multicastPort,
  });
  api.attach(node);
  return { node, api, dataDir };
}

/** Forwards the group's datagrams from one port to another, losing those `lose` picks. */
async function lossyRelay(
  fromPort: number,
  toPort: number,
  lose: (datagram: number) => boolean,
): Promise<Socket> {
  const socket = createSocket({ type: "udp4", reuseAddr: true });
  let count = 0;
  socket.on("message", (datagram) => {
    if (lose(++count)) return;
    socket.send(datagram, toPort, group);
  });
  await new Promise<void>((resolve) => socket.bind({ address: group, port: fromPort }, resolve));
  socket.addMembership(group, "127.0.0.1");
  socket.setMulticastInterface("127.0.0.1");
  socket.setMulticastTTL(1);
  socket.setMulticastLoopback(true);
  return socket;
}

describe("updates from a keyed three-node cluster", () => {
  const members: Member[] = [];
  const closers: (() => Promise<void> | void)[] = [];
  const multicastPort = 20_000 + Math.floor(Math.random() * 20_000);
  const relayedPort = multicastPort + 20_000;
  const clusterName = `updates-${process.pid}-${Math.floor(Math.random() * 1e6)}`;

  const receiver = async (options: Partial<UpdateReceiverOptions> = {}) => {
    const started = await UpdateReceiver.start({
      group,
      port: multicastPort,
      keys: [key],
      clusterName,
      httpUrl: members[0]!.api.url,
      ...options,
    });
    closers.push(() => started.close());
    const updates: AuctionUpdate[] = [];
    const catchUps: CatchUp[] = [];
    started.on("update", (update) => updates.push(update));
    started.on("catch-up", (catchUp) => catchUps.push(catchUp));
    return { receiver: started, updates, catchUps };
  };

  before(async () => {
    const discoveryPort = await freeUdpPort();
    for (const id of [1, 2, 3])
      members.push(await startMember(id, clusterName, discoveryPort, multicastPort));
    await waitFor("node 3 to lead a cluster of three", 20_000, () =>
      members.every(
        (member) => member.node.status().leaderId === 3 && member.node.status().members.length === 3,
      ),
    );
  });

  after(async () => {
    for (const close of closers) await close();
    for (const member of members) {
      await member.node.stop();
      await member.api.close();
      rmSync(member.dataDir, { recursive: true, force: true });
    }
  });

  test("a receiver sees every update of a run of bids; a lossy one catches up over HTTP; a wrong key sees none", async () => {
    const watcher = await receiver();
    const lossy = await receiver({ port: relayedPort });
    const stranger = await receiver({ keys: [otherKey] });
    const relay = await lossyRelay(multicastPort, relayedPort, (datagram) => datagram === 5);
    closers.push(() => void relay.close());
    const api = (index: number) => members[index % members.length]!.api.url;

    const seller = await http(`${api(0)}/api/users`, { body: { name: "sam" } });
    const bidder = await http(`${api(1)}/api/users`, { body: { name: "bea" } });
    assert.equal(seller.status, 201);
    assert.equal(bidder.status, 201);
    const created = await http(`${api(2)}/api/auctions`, {
      body: { title: "Lamp", startingPrice: 1000, minIncrement: 100, durationMs: 600_000 },
      token: String(seller.body.token),
    });
    assert.equal(created.status, 201);
    const auctionId = String(created.body.id);
    const bids = 15;
    for (let bid = 0; bid < bids; bid++) {
      const placed = await http(`${api(bid)}/api/auctions/${auctionId}/bids`, {
        body: { amount: 1000 + 100 * bid, bidId: `b${bid}` },
        token: String(bidder.body.token),
      });
      assert.equal(placed.status, 201, JSON.stringify(placed.body));
    }
    const finalVersion = bids + 1;
    await waitFor("every update", 10_000, () => watcher.updates.length === finalVersion);
    assert.deepEqual(
      watcher.updates.map((update) => update.version),
      Array.from({ length: finalVersion }, (_, index) => index + 1),
    );
    assert.deepEqual(
      watcher.updates.map((update) => update.event),
      ["auction-created", ...Array<string>(bids).fill("bid-accepted")],
    );
    const shown = await http(`${api(0)}/api/auctions/${auctionId}`);
    const last = watcher.updates[finalVersion - 1]!;
    assert.equal(last.version, shown.body.version);
    assert.equal(last.price, shown.body.price);
    assert.equal(last.highBidder, "bea");
    assert.ok(
      watcher.updates.every((update) => update.nodeId === shown.body.owner),
      "only the owner publishes",
    );
    assert.equal(watcher.receiver.stats().gaps, 0);

    // The relay lost datagram 5 (version 5): the lossy receiver fetched the auction and went on.
    await waitFor("the lossy receiver to reach the last version", 10_000, () => {
      return lossy.receiver.version(auctionId) === finalVersion;
    });
    assert.equal(lossy.receiver.stats().gaps, 1);
    assert.equal(lossy.catchUps.length, 1);
    assert.equal(lossy.catchUps[0]!.fromVersion, 4);
    assert.ok(lossy.catchUps[0]!.version >= 6, "the fetched state covers the lost version");
    const fetched = lossy.catchUps[0]!.version;
    assert.deepEqual(
      lossy.updates.map((update) => update.version),
      [1, 2, 3, 4, ...Array.from({ length: finalVersion - fetched }, (_, index) => fetched + 1 + index)],
      "in order, nothing twice, nothing missing past the fetched version",
    );

    assert.equal(stranger.updates.length, 0);
    assert.ok(stranger.receiver.stats().dropped["unknown-key"] >= finalVersion);
  });

  test("rotating the key from A to B under load, live on every node: no election, no bid lost", async () => {
    const watcher = await receiver({ keys: [key, newKey] });
    const api = (index: number) => members[index % members.length]!.api.url;
    const seller = await http(`${api(0)}/api/users`, { body: { name: "rosa" } });
    const bidder = await http(`${api(1)}/api/users`, { body: { name: "ivo" } });
    const created = await http(`${api(2)}/api/auctions`, {
      body: { title: "Clock", startingPrice: 100, minIncrement: 1, durationMs: 600_000 },
      token: String(seller.body.token),
    });
    assert.equal(created.status, 201);
    const auctionId = String(created.body.id);
    const terms = members.map((member) => member.node.status().term);
    const elected: number[] = [];
    for (const member of members) {
      member.node.onEvent((event) => {
        if (event.type === "became-leader") elected.push(event.term);
      });
    }

    // Load: bids one after another through every node until the rotation is over.
    let rotating = true;
    const statuses: number[] = [];
    const load = (async () => {
      for (let bid = 0; rotating || bid < 5; bid++) {
        const placed = await http(`${api(bid)}/api/auctions/${auctionId}/bids`, {
          body: { amount: 100 + bid, bidId: `r${bid}` },
          token: String(bidder.body.token),
        });
        statuses.push(placed.status);
      }
    })();
    const settle = () => new Promise((resolve) => setTimeout(resolve, 300));
    for (const keys of [[key, newKey], [newKey, key], [newKey]]) {
      for (const member of members) {
        member.node.setKeys(keys);
        await settle();
      }
    }
    rotating = false;
    await load;

    assert.ok(statuses.length >= 20, `bids during the rotation: ${statuses.length}`);
    assert.deepEqual(new Set(statuses), new Set([201]), "every bid accepted");
    assert.deepEqual(
      members.map((member) => member.node.status().term),
      terms,
      "no new term: no election",
    );
    assert.deepEqual(elected, [], "nobody became leader");
    const shown = await http(`${api(0)}/api/auctions/${auctionId}`);
    assert.equal(shown.body.bidCount, statuses.length, "every acknowledged bid is there");
    await waitFor("every update", 10_000, () => watcher.receiver.version(auctionId) === shown.body.version);
    assert.equal(watcher.receiver.stats().gaps, 0);
    for (const member of members) {
      const drops = member.node.adapterDrops();
      for (const reason of ["unsigned", "unknown-key", "bad-signature", "stale", "replayed"]) {
        assert.equal(drops[reason] ?? 0, 0, `node ${member.node.id}: ${reason} messages`);
        assert.equal(drops[`beacon-${reason}`] ?? 0, 0, `node ${member.node.id}: ${reason} beacons`);
      }
    }
  });
});

describe("a node's cluster keys at start", () => {
  test("without keys the node warns loudly; with keys it names them by id only", async () => {
    for (const keys of [undefined, [key, otherKey]]) {
      const dataDir = mkdtempSync(path.join(tmpdir(), "gavel-keys-"));
      const { logger, lines } = recordingLogger();
      const node = await GavelNode.start({
        host: "127.0.0.1",
        port: 0,
        httpUrl: "http://127.0.0.1:1",
        discoveryPort: await freeUdpPort(),
        dataDir,
        config: { ...defaultConfig(), clusterName: `keys-${process.pid}` },
        logger,
        keys,
        multicastPort: 20_000 + Math.floor(Math.random() * 40_000),
      });
      try {
        const warning = lines.find((line) => line.msg.startsWith("NO CLUSTER KEY"));
        const named = lines.find((line) => line.msg === "cluster keys set");
        if (keys === undefined) {
          assert.ok(warning !== undefined && warning.level === 40, "a warning without keys");
          assert.equal(named, undefined);
        } else {
          assert.equal(warning, undefined);
          assert.deepEqual(named?.keyIds, [keyIdOf(key), keyIdOf(otherKey)]);
          const everything = JSON.stringify(lines);
          assert.ok(!everything.includes(key) && !everything.includes(otherKey), "no key text in the logs");
        }
      } finally {
        await node.stop();
        rmSync(dataDir, { recursive: true, force: true });
      }
    }
  });

  test("an unusable key stops the node before it opens anything", async () => {
    const dataDir = path.join(tmpdir(), `gavel-never-${process.pid}-${Date.now()}`);
    await assert.rejects(
      GavelNode.start({
        host: "127.0.0.1",
        port: 0,
        httpUrl: "http://127.0.0.1:1",
        discoveryPort: await freeUdpPort(),
        dataDir,
        config: { ...defaultConfig(), clusterName: "never" },
        logger: silentLogger(),
        keys: ["short"],
      }),
      InvalidClusterKeyError,
    );
    assert.equal(existsSync(dataDir), false, "no data dir was created");
  });
});
