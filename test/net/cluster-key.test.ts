// Cluster keys without sockets: sealing and opening, every reason a frame is refused, key rotation
// at the level of one frame, the replay window and the bounded nonce cache (which must fail closed
// at its bound), and keys that never appear in errors.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  ClusterKeyring,
  frameAuth,
  keyIdOf,
  parseClusterKeys,
  SIGNATURE_HEADER_BYTES,
} from "../../src/net/cluster-key.js";
import type { Opened } from "../../src/net/cluster-key.js";
import { InvalidClusterKeyError } from "../../src/net/errors.js";
import { ReplayGuard } from "../../src/net/replay-guard.js";

const keyA = "key-a-0123456789abcdef";
const keyB = "key-b-0123456789abcdef";
const body = Buffer.from('{"v":1,"m":{"hello":"world"}}', "utf8");

function reason(opened: Opened): string {
  return opened.ok ? "ok" : opened.reason;
}

function flip(buffer: Buffer, index: number): void {
  buffer.writeUInt8(buffer.readUInt8(index) ^ 1, index);
}

/** A clock the test moves by hand. */
function manualClock(startMs = 1_700_000_000_000): { nowMs: () => number; advance: (ms: number) => void } {
  let now = startMs;
  return { nowMs: () => now, advance: (ms) => void (now += ms) };
}

describe("sealing and opening", () => {
  test("a sealed body opens with the same key, once", () => {
    const sender = frameAuth("peer", { keys: [keyA] });
    const receiver = frameAuth("peer", { keys: [keyA] });
    const sealed = sender.seal(body);
    assert.equal(sealed.byteLength, body.byteLength + SIGNATURE_HEADER_BYTES);
    assert.equal(sender.overheadBytes, SIGNATURE_HEADER_BYTES);
    const opened = receiver.open(sealed);
    assert.ok(opened.ok);
    assert.deepEqual(opened.body, body);
    assert.equal(reason(receiver.open(sealed)), "replayed");
  });

  test("every seal has its own nonce: the same body twice opens twice", () => {
    const sender = frameAuth("peer", { keys: [keyA] });
    const receiver = frameAuth("peer", { keys: [keyA] });
    assert.equal(reason(receiver.open(sender.seal(body))), "ok");
    assert.equal(reason(receiver.open(sender.seal(body))), "ok");
  });

  test("refusals: unsigned, unknown key, tampered body, tampered stamp, another channel", () => {
    const receiver = frameAuth("peer", { keys: [keyA] });
    assert.equal(reason(receiver.open(body)), "unsigned");
    assert.equal(reason(receiver.open(Buffer.alloc(0))), "unsigned");
    assert.equal(reason(receiver.open(frameAuth("peer", { keys: [keyB] }).seal(body))), "unknown-key");
    const sealed = frameAuth("peer", { keys: [keyA] }).seal(body);
    const tamperedBody = Buffer.from(sealed);
    flip(tamperedBody, tamperedBody.length - 2);
    assert.equal(reason(receiver.open(tamperedBody)), "bad-signature");
    const tamperedStamp = Buffer.from(sealed);
    flip(tamperedStamp, 17);
    assert.equal(reason(receiver.open(tamperedStamp)), "bad-signature");
    const beacon = frameAuth("beacon", { keys: [keyA] }).seal(body);
    assert.equal(reason(receiver.open(beacon)), "bad-signature", "a beacon is not a peer frame");
    assert.equal(reason(receiver.open(sealed)), "ok", "the untampered original still opens");
  });

  test("without keys, bodies pass as they are and a signed frame is refused", () => {
    const open = frameAuth("peer");
    assert.equal(open.keyed, false);
    assert.deepEqual(open.seal(body), body);
    const opened = open.open(body);
    assert.ok(opened.ok);
    assert.deepEqual(opened.body, body);
    assert.equal(reason(open.open(frameAuth("peer", { keys: [keyA] }).seal(body))), "unexpected-signature");
    assert.equal(frameAuth("peer", { keys: [] }).keyed, false, "an empty list means no keys");
  });

  test("rotation: the first key signs, every key verifies", () => {
    const a = frameAuth("peer", { keys: [keyA] });
    const ab = frameAuth("peer", { keys: [keyA, keyB] });
    const ba = frameAuth("peer", { keys: [keyB, keyA] });
    const b = frameAuth("peer", { keys: [keyB] });
    // Neighbouring steps of a rotation understand each other both ways.
    for (const [x, y] of [
      [a, ab],
      [ab, ba],
      [ba, b],
    ] as const) {
      assert.equal(reason(y.open(x.seal(body))), "ok");
      assert.equal(reason(x.open(y.seal(body))), "ok");
    }
    assert.equal(reason(b.open(a.seal(body))), "unknown-key", "the ends of the rotation do not");
  });
});

describe("the replay window", () => {
  test("frames stamped too far in the past or future are stale", () => {
    const clock = manualClock();
    const receiver = frameAuth("peer", { keys: [keyA], replayWindowMs: 1000, nowMs: clock.nowMs });
    clock.advance(5000); // long after the receiver started
    const old = frameAuth("peer", { keys: [keyA], nowMs: () => clock.nowMs() - 1001 }).seal(body);
    const future = frameAuth("peer", { keys: [keyA], nowMs: () => clock.nowMs() + 1001 }).seal(body);
    const edge = frameAuth("peer", { keys: [keyA], nowMs: () => clock.nowMs() - 1000 }).seal(body);
    assert.equal(reason(receiver.open(old)), "stale");
    assert.equal(reason(receiver.open(future)), "stale");
    assert.equal(reason(receiver.open(edge)), "ok");
  });

  test("a receiver refuses frames stamped before it started: after a restart it knows no nonces", () => {
    const clock = manualClock();
    const sender = frameAuth("peer", { keys: [keyA], nowMs: clock.nowMs });
    const firstRun = frameAuth("peer", { keys: [keyA], nowMs: clock.nowMs });
    const captured = sender.seal(body);
    assert.equal(reason(firstRun.open(captured)), "ok");
    clock.advance(1);
    const restarted = frameAuth("peer", { keys: [keyA], nowMs: clock.nowMs });
    assert.equal(reason(restarted.open(captured)), "stale");
    assert.equal(reason(restarted.open(sender.seal(body))), "ok", "frames sealed since pass");
  });

  test("a captured frame replayed after its nonce expired is stale, never accepted", () => {
    const clock = manualClock();
    const sender = frameAuth("peer", { keys: [keyA], nowMs: clock.nowMs });
    const receiver = frameAuth("peer", { keys: [keyA], replayWindowMs: 1000, nowMs: clock.nowMs });
    const captured = sender.seal(body);
    assert.equal(reason(receiver.open(captured)), "ok");
    assert.equal(reason(receiver.open(captured)), "replayed");
    clock.advance(1001);
    assert.equal(reason(receiver.open(captured)), "stale");
    assert.equal(reason(receiver.open(sender.seal(body))), "ok", "fresh traffic passes");
  });
});

describe("the bounded nonce cache", () => {
  test("at the bound it forgets the oldest stamp and refuses everything at or before it", () => {
    const clock = manualClock(900_000);
    const guard = new ReplayGuard({ replayWindowMs: 10_000, replayNoncesMax: 3, nowMs: clock.nowMs });
    clock.advance(100_000);
    assert.equal(guard.check(999_000, "n1"), "fresh");
    assert.equal(guard.check(999_500, "n2"), "fresh");
    assert.equal(guard.check(998_000, "n3"), "fresh");
    assert.equal(guard.size, 3);
    // Full: n3 (the oldest stamp, 998 000) is forgotten and the floor rises to it.
    assert.equal(guard.check(1_000_000, "n4"), "fresh");
    assert.equal(guard.size, 3);
    assert.equal(guard.evictions, 1);
    assert.equal(guard.check(998_000, "n3"), "forgotten", "the forgotten nonce cannot come back");
    assert.equal(guard.check(997_000, "n9"), "forgotten", "nor anything older, seen or not");
    assert.equal(guard.check(999_000, "n1"), "replayed", "remembered nonces are still replays");
    assert.equal(guard.check(998_001, "n5"), "fresh", "newer than the floor passes");
  });

  test("nonces leave the cache with the window, so a steady stream never reaches the bound", () => {
    const clock = manualClock(0);
    const guard = new ReplayGuard({ replayWindowMs: 100, replayNoncesMax: 20, nowMs: clock.nowMs });
    for (let frame = 0; frame < 1000; frame++) {
      clock.advance(10);
      assert.equal(guard.check(clock.nowMs(), `n${frame}`), "fresh");
    }
    assert.equal(guard.evictions, 0);
    assert.ok(guard.size <= 11, `at most a window of nonces held, got ${guard.size}`);
  });

  test("a flood of distinct frames keeps memory at the bound and still refuses every replay", () => {
    const clock = manualClock();
    const sender = frameAuth("peer", { keys: [keyA], nowMs: clock.nowMs });
    const receiver = frameAuth("peer", { keys: [keyA], replayNoncesMax: 50, nowMs: clock.nowMs });
    const frames: Buffer[] = [];
    for (let index = 0; index < 500; index++) {
      if (index % 7 === 0) clock.advance(1);
      frames.push(sender.seal(body));
      assert.equal(reason(receiver.open(frames[index]!)), "ok");
    }
    assert.ok(receiver.replayEvictions >= 450);
    for (const frame of frames) assert.notEqual(reason(receiver.open(frame)), "ok");
  });
});

describe("keys", () => {
  test("parseClusterKeys splits on commas, trims, drops empties", () => {
    assert.deepEqual(parseClusterKeys(` ${keyA} ,, ${keyB},`), [keyA, keyB]);
    assert.deepEqual(parseClusterKeys(""), []);
  });

  test("the keyring names keys by id; the first signs", () => {
    const keyring = ClusterKeyring.of([keyB, keyA]);
    assert.equal(keyring.signingKeyId, keyIdOf(keyB));
    assert.deepEqual(keyring.keyIds, [keyIdOf(keyB), keyIdOf(keyA)]);
    assert.match(keyIdOf(keyA), /^[0-9a-f]{16}$/);
    assert.notEqual(keyIdOf(keyA), keyIdOf(keyB));
  });

  test("short, repeated or missing keys are refused, and the error never quotes a key", () => {
    const short = "short-secret";
    const attempts: [readonly string[], RegExp][] = [
      [[], /no key given/],
      [[keyA, short], /key 2 has 12 bytes; use at least 16/],
      [[keyA, keyB, keyA], /key 3 repeats/],
    ];
    for (const [keys, message] of attempts) {
      assert.throws(
        () => ClusterKeyring.of(keys),
        (error: unknown) => {
          assert.ok(error instanceof InvalidClusterKeyError);
          assert.equal(error.code, "invalid-cluster-key");
          for (const key of [keyA, keyB, short]) assert.ok(!error.message.includes(key), "no key text");
          return message.test(error.message);
        },
      );
    }
    assert.throws(() => frameAuth("beacon", { keys: [short] }), InvalidClusterKeyError);
  });
});
