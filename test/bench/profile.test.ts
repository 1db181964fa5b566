// The bench's profile summary on a hand-made `.cpuprofile`: each sample counts once, in the area of
// the nearest gavel code on its stack; Node, V8 and package code count toward their caller's area.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { test } from "node:test";
import { profilesIn, startingArea, summarize } from "../../bench/profile.js";

const dist = "file:///work/gavel/dist/src";

/** Frames of a call tree as [functionName, url, children]; ids are given depth first from 1. */
type Frame = [string, string, Frame[]?];

/** A profile of `tree` where the frame named in `samples` was sampled that many times, 1 ms apart. */
function profileOf(tree: Frame, samples: Record<string, number>): object {
  const nodes: object[] = [];
  const ids = new Map<string, number>();
  const add = ([functionName, url, children = []]: Frame): number => {
    const id = nodes.length + 1;
    const node = { id, callFrame: { functionName, url, lineNumber: 0, columnNumber: 0, scriptId: "0" } };
    nodes.push(node);
    ids.set(functionName, id);
    Object.assign(node, { children: children.map(add) });
    return id;
  };
  add(tree);
  const sampled = Object.entries(samples).flatMap(([name, count]) =>
    Array<number>(count).fill(ids.get(name)!),
  );
  return {
    nodes,
    startTime: 0,
    endTime: sampled.length * 1000,
    samples: sampled,
    timeDeltas: sampled.map(() => 1000),
  };
}

test("each busy sample counts once, in the area of the nearest gavel code on its stack", () => {
  const tree: Frame = [
    "(root)",
    "",
    [
      ["(idle)", ""],
      ["(garbage collector)", ""],
      ["(program)", ""],
      [
        "parserOnIncoming",
        "node:_http_server",
        [["handler", `${dist}/api/auction-routes.js`, [["writevHttp", ""]]]],
      ],
      [
        "onStreamRead",
        "node:internal/stream_base_commons",
        [
          [
            "onData",
            `${dist}/net/tcp-peer-link.js`,
            [["parseEnvelope", `${dist}/net/envelope.js`, [["parse", ""]]]],
          ],
        ],
      ],
      [
        "processImmediate",
        "node:internal/timers",
        [
          [
            "flush",
            `${dist}/node/gavel-node.js`,
            [
              [
                "applyCommitted",
                `${dist}/core/cluster/node.js`,
                [["decideBid", `${dist}/core/auction/engine.js`]],
              ],
              ["fsyncWal", `${dist}/disk/sqlite-storage.js`, [["fsync", ""]]],
              ["publish", `${dist}/net/update-publisher.js`, [["sendUdp", `${dist}/net/udp-socket.js`]]],
            ],
          ],
        ],
      ],
      ["moduleJob", "node:internal/modules/esm/module_job", [["schemasTop", `${dist}/net/schemas.js`]]],
    ],
  ];
  const samples = {
    "(idle)": 50,
    "(garbage collector)": 5,
    "(program)": 5,
    writevHttp: 20,
    parse: 10,
    decideBid: 4,
    applyCommitted: 2,
    fsync: 3,
    sendUdp: 1,
    schemasTop: 10,
  };
  const dir = mkdtempSync(path.join(tmpdir(), "gavel-profile-"));
  try {
    const file = path.join(dir, "CPU.20261202.150800.4242.0.001.cpuprofile");
    writeFileSync(file, JSON.stringify(profileOf(tree, samples)));
    assert.deepEqual([...profilesIn(dir)], [[4242, file]]);
    const summary = summarize(file);
    assert.equal(summary.busyMs, 60);
    assert.equal(summary.idleShare, 50 / 110);
    const byArea: Record<string, number> = {};
    for (const row of summary.byArea) byArea[row.what.split(" (")[0]!] = row.share * 60;
    assert.deepEqual(byArea, {
      "HTTP API": 20,
      "peer messages": 10,
      starting: 10,
      "garbage collector": 5,
      "Node.js and V8 outside gavel's code": 5,
      "state machine": 4,
      "log storage": 3,
      "cluster core": 2,
      updates: 1,
    });
    assert.equal(startingArea.split(" (")[0], "starting");
    const total = summary.byArea.reduce((sum, row) => sum + row.share, 0);
    assert.ok(Math.abs(total - 1) < 1e-9, `areas add up to ${total}`);
    assert.deepEqual(
      summary.byArea.map((row) => row.share),
      summary.byArea.map((row) => row.share).sort((a, b) => b - a),
      "largest first",
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
