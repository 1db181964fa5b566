// Cluster keys: every TCP frame, UDP beacon and multicast update between nodes is sealed with an
// HMAC-SHA256 of its bytes, a timestamp and a nonce, under the first of the configured keys; every
// configured key is accepted, so keys rotate without downtime. Opening checks the signature in
// constant time, then the timestamp window and the nonce (replay-guard.ts). A key's text never
// appears in a log, an error or a stat: keys are named by their id, a hash prefix.
import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { InvalidClusterKeyError } from "./errors.js";
import { ReplayGuard } from "./replay-guard.js";
import type { ReplayGuardOptions } from "./replay-guard.js";

/**
 * What a sealed frame is for. The domain is part of what is signed, so a frame captured on one
 * channel (a UDP beacon) is refused on another (a TCP link, the multicast group).
 */
export type AuthDomain = "peer" | "beacon" | "update";

/**
 * Why a frame failed to open:
 * - "unsigned": no signature header (a node or client without keys, or garbage);
 * - "unknown-key": signed with a key whose id we do not hold (the wrong key);
 * - "bad-signature": a key we hold, but the signature does not match (tampered, or another domain);
 * - "stale": stamped outside the replay window, or too old to be told apart from a replay;
 * - "replayed": a nonce already seen;
 * - "unexpected-signature": a signed frame reached a node configured without keys.
 */
export type AuthFailureReason =
  "unsigned" | "unknown-key" | "bad-signature" | "stale" | "replayed" | "unexpected-signature";

export const authFailureReasons: readonly AuthFailureReason[] = [
  "unsigned",
  "unknown-key",
  "bad-signature",
  "stale",
  "replayed",
  "unexpected-signature",
];

/** Shortest key accepted, in UTF-8 bytes: a key is a shared secret, not a password to remember. */
export const KEY_BYTES_MIN = 16;

/**
 * The header in front of a sealed body:
 *   [0]      0xF5, a byte never found in UTF-8 text, so an unkeyed node sees "not UTF-8", never JSON
 *   [1]      the signature format (1)
 *   [2, 10)  the key id
 *   [10, 18) the sender's clock, ms since the epoch, unsigned big-endian
 *   [18, 34) the nonce: 8 random bytes per sender, then a counter
 *   [34, 66) HMAC-SHA256 over the domain label, bytes [0, 34) and the body
 */
export const SIGNATURE_HEADER_BYTES = 66;
const MARKER = 0xf5;
const FORMAT = 1;
const KEY_ID_BYTES = 8;
const KEY_ID_AT = 2;
const TIMESTAMP_AT = 10;
const NONCE_AT = 18;
const NONCE_BYTES = 16;
const MAC_AT = 34;
const MAC_BYTES = 32;

const domainLabels: Record<AuthDomain, Buffer> = {
  peer: Buffer.from("gavel/1/peer\0", "utf8"),
  beacon: Buffer.from("gavel/1/beacon\0", "utf8"),
  update: Buffer.from("gavel/1/update\0", "utf8"),
};

/** Splits the text of `--cluster-key` (or GAVEL_CLUSTER_KEY) into keys: comma-separated, trimmed, empties dropped. */
export function parseClusterKeys(text: string): string[] {
  return text
    .split(",")
    .map((key) => key.trim())
    .filter((key) => key !== "");
}

/** The id of a key, safe to log: hex of the first 8 bytes of SHA-256 over a label and the key. */
export function keyIdOf(key: string): string {
  return keyIdBytes(Buffer.from(key, "utf8")).toString("hex");
}

function keyIdBytes(secret: Buffer): Buffer {
  return createHash("sha256")
    .update("gavel cluster key id\0")
    .update(secret)
    .digest()
    .subarray(0, KEY_ID_BYTES);
}

interface Key {
  id: Buffer;
  secret: Buffer;
}

/** The configured keys: the first signs, every one verifies. */
export class ClusterKeyring {
  private readonly byId = new Map<string, Key>();

  private constructor(private readonly signing: Key) {}

  /**
   * Keys in order of preference. Throws InvalidClusterKeyError (naming keys by position, never
   * by text) if there are none, one is shorter than KEY_BYTES_MIN bytes, or one is given twice.
   */
  static of(keys: readonly string[]): ClusterKeyring {
    if (keys.length === 0) throw new InvalidClusterKeyError("no key given");
    const parsed = keys.map((key, position) => {
      const secret = Buffer.from(key, "utf8");
      if (secret.byteLength < KEY_BYTES_MIN) {
        throw new InvalidClusterKeyError(
          `key ${position + 1} has ${secret.byteLength} bytes; use at least ${KEY_BYTES_MIN} (e.g. openssl rand -hex 32)`,
        );
      }
      return { id: keyIdBytes(secret), secret };
    });
    const keyring = new ClusterKeyring(parsed[0]!);
    parsed.forEach((key, position) => {
      const id = key.id.toString("hex");
      if (keyring.byId.has(id))
        throw new InvalidClusterKeyError(`key ${position + 1} repeats an earlier key`);
      keyring.byId.set(id, key);
    });
    return keyring;
  }

  /** The id of the key that signs. */
  get signingKeyId(): string {
    return this.signing.id.toString("hex");
  }

  /** The ids of every key that verifies, signing key first. */
  get keyIds(): string[] {
    return [...this.byId.keys()];
  }

  /** @internal The signing key (for FrameSealer). */
  signingKey(): Key {
    return this.signing;
  }

  /** @internal The key with this id, if we hold it. */
  keyWithId(id: Buffer): Key | undefined {
    return this.byId.get(id.toString("hex"));
  }
}

/** The result of opening a frame: its body, or why it was refused (`detail` quotes no input). */
export type Opened = { ok: true; body: Buffer } | { ok: false; reason: AuthFailureReason; detail: string };

/** Seals outgoing bodies and opens incoming frames on one channel. */
export interface FrameAuth {
  /** True when keys are configured. */
  readonly keyed: boolean;
  /** Bytes that `seal` adds to a body. */
  readonly overheadBytes: number;
  /** The body, signed (with keys) or as is (without). */
  seal(body: Uint8Array): Buffer;
  /** The body of a frame that passes, or why it does not. */
  open(frame: Buffer): Opened;
  /** Nonces forgotten because the replay cache was full (each refuses older frames from then on). */
  readonly replayEvictions: number;
}

export interface FrameAuthOptions extends ReplayGuardOptions {
  /** Cluster keys, the first signs; none (undefined or empty): frames are neither signed nor checked. */
  keys?: readonly string[];
}

/** The FrameAuth of one channel: keyed if `options.keys` has any key, open otherwise. */
export function frameAuth(domain: AuthDomain, options: FrameAuthOptions = {}): ChannelAuth {
  return new ChannelAuth(domain, options);
}

/**
 * Seals and opens the frames of one channel with the current keys, which `setKeys` replaces while
 * the node runs (a rotation without restarts); the nonces seen are kept across the change.
 */
export class ChannelAuth implements FrameAuth {
  private keyring: ClusterKeyring | null;
  private readonly guard: ReplayGuard;
  private readonly nowMs: () => number;
  private readonly noncePrefix = randomBytes(8);
  // The counter makes nonces unique per sender; the random prefix, across senders and restarts.
  private nonceCounter = 0n;

  constructor(
    private readonly domain: AuthDomain,
    options: FrameAuthOptions,
  ) {
    this.keyring = keyringOf(options.keys ?? []);
    this.guard = new ReplayGuard(options);
    this.nowMs = options.nowMs ?? Date.now;
  }

  get keyed(): boolean {
    return this.keyring !== null;
  }

  get overheadBytes(): number {
    return this.keyring === null ? 0 : SIGNATURE_HEADER_BYTES;
  }

  get replayEvictions(): number {
    return this.guard.evictions;
  }

  /** Ids of the keys in use, signing key first (empty without keys). */
  get keyIds(): string[] {
    return this.keyring?.keyIds ?? [];
  }

  /**
   * Uses `keys` from now on (none: unsigned). Throws InvalidClusterKeyError, keeping the current
   * keys, if one is unusable.
   */
  setKeys(keys: readonly string[]): void {
    this.keyring = keyringOf(keys);
  }

  seal(body: Uint8Array): Buffer {
    if (this.keyring === null) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    const key = this.keyring.signingKey();
    const frame = Buffer.allocUnsafe(SIGNATURE_HEADER_BYTES + body.byteLength);
    frame[0] = MARKER;
    frame[1] = FORMAT;
    key.id.copy(frame, KEY_ID_AT);
    frame.writeBigUInt64BE(BigInt(Math.max(0, Math.floor(this.nowMs()))), TIMESTAMP_AT);
    this.noncePrefix.copy(frame, NONCE_AT);
    frame.writeBigUInt64BE(this.nonceCounter, NONCE_AT + 8);
    this.nonceCounter = (this.nonceCounter + 1n) & 0xffff_ffff_ffff_ffffn;
    frame.set(body, SIGNATURE_HEADER_BYTES);
    mac(this.domain, key.secret, frame.subarray(0, MAC_AT), body).copy(frame, MAC_AT);
    return frame;
  }

  open(frame: Buffer): Opened {
    if (this.keyring === null) {
      if (!isSigned(frame)) return { ok: true, body: frame };
      const detail = "signed frame, but this node has no cluster key";
      return { ok: false, reason: "unexpected-signature", detail };
    }
    if (!isSigned(frame)) return { ok: false, reason: "unsigned", detail: "no signature" };
    if (frame[1] !== FORMAT) {
      const detail = `signature format ${frame[1]}, expected ${FORMAT}`;
      return { ok: false, reason: "bad-signature", detail };
    }
    const keyId = frame.subarray(KEY_ID_AT, KEY_ID_AT + KEY_ID_BYTES);
    const key = this.keyring.keyWithId(keyId);
    if (key === undefined) {
      const detail = `signed with key ${keyId.toString("hex")}, not ours`;
      return { ok: false, reason: "unknown-key", detail };
    }
    const body = frame.subarray(SIGNATURE_HEADER_BYTES);
    const expected = mac(this.domain, key.secret, frame.subarray(0, MAC_AT), body);
    if (!timingSafeEqual(expected, frame.subarray(MAC_AT, MAC_AT + MAC_BYTES))) {
      const detail = `signature does not match key ${keyId.toString("hex")}`;
      return { ok: false, reason: "bad-signature", detail };
    }
    return this.checkReplay(frame, body);
  }

  /** The stamp and nonce of a frame whose signature checked out. */
  private checkReplay(frame: Buffer, body: Buffer): Opened {
    const timestampMs = Number(frame.readBigUInt64BE(TIMESTAMP_AT));
    const verdict = this.guard.check(timestampMs, frame.toString("latin1", NONCE_AT, NONCE_AT + NONCE_BYTES));
    if (verdict === "stale") {
      const detail = `stamped ${timestampMs - this.nowMs()} ms from now, window ±${this.guard.windowMs} ms`;
      return { ok: false, reason: "stale", detail };
    }
    if (verdict === "forgotten") {
      const detail = `stamped before this receiver started, or before nonces it forgot (cache of ${this.guard.noncesMax} full)`;
      return { ok: false, reason: "stale", detail };
    }
    if (verdict === "replayed") return { ok: false, reason: "replayed", detail: "nonce already seen" };
    return { ok: true, body };
  }
}

function keyringOf(keys: readonly string[]): ClusterKeyring | null {
  return keys.length === 0 ? null : ClusterKeyring.of(keys);
}

function isSigned(frame: Buffer): boolean {
  return frame.byteLength >= SIGNATURE_HEADER_BYTES && frame[0] === MARKER;
}

function mac(domain: AuthDomain, secret: Buffer, header: Buffer, body: Uint8Array): Buffer {
  return createHmac("sha256", secret).update(domainLabels[domain]).update(header).update(body).digest();
}
