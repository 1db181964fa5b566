// Peer address parsing and the broadcast address of a bound host, computed from an interface
// table given by the test (no real interfaces are used).
import assert from "node:assert/strict";
import type { NetworkInterfaceInfo } from "node:os";
import { describe, test } from "node:test";
import { broadcastAddressOf, formatAddress, parseAddress } from "../../src/net/address.js";
import { NetError } from "../../src/net/errors.js";

function ipv4(address: string, netmask: string): NetworkInterfaceInfo {
  return { address, netmask, family: "IPv4", mac: "00:00:00:00:00:00", internal: false, cidr: null };
}

const interfaces = {
  lo: [ipv4("127.0.0.1", "255.0.0.0")],
  eth0: [ipv4("192.168.1.23", "255.255.255.0")],
  eth1: [ipv4("10.1.2.3", "255.255.240.0")],
  tun0: [ipv4("10.9.9.9", "255.255.255.255")],
  weird: [ipv4("172.16.0.1", "0.0.0.0")],
};

function code(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof NetError);
    return error.code;
  }
  assert.fail("expected an error");
}

describe("broadcastAddressOf", () => {
  test("any loopback address broadcasts to 127.255.255.255", () => {
    for (const host of ["127.0.0.1", "127.0.0.2", "127.1.2.3"]) {
      assert.equal(broadcastAddressOf(host, {}), "127.255.255.255");
    }
  });

  test("other addresses broadcast to address | ~netmask of their interface", () => {
    assert.equal(broadcastAddressOf("192.168.1.23", interfaces), "192.168.1.255");
    assert.equal(broadcastAddressOf("10.1.2.3", interfaces), "10.1.15.255");
  });

  test("the wildcard, IPv6, unknown hosts and /0 or /32 netmasks are refused", () => {
    assert.equal(
      code(() => broadcastAddressOf("0.0.0.0", interfaces)),
      "wildcard-address",
    );
    assert.equal(
      code(() => broadcastAddressOf("", interfaces)),
      "wildcard-address",
    );
    assert.equal(
      code(() => broadcastAddressOf("::", interfaces)),
      "wildcard-address",
    );
    assert.equal(
      code(() => broadcastAddressOf("::1", interfaces)),
      "no-interface",
    );
    assert.equal(
      code(() => broadcastAddressOf("localhost", interfaces)),
      "no-interface",
    );
    assert.equal(
      code(() => broadcastAddressOf("192.168.7.7", interfaces)),
      "no-interface",
    );
    assert.equal(
      code(() => broadcastAddressOf("10.9.9.9", interfaces)),
      "no-interface",
    );
    assert.equal(
      code(() => broadcastAddressOf("172.16.0.1", interfaces)),
      "no-interface",
    );
  });
});

describe("parseAddress", () => {
  test("host:port, [ipv6]:port and DNS names parse", () => {
    assert.deepEqual(parseAddress("127.0.0.1:7401"), { ok: true, value: { host: "127.0.0.1", port: 7401 } });
    assert.deepEqual(parseAddress("[::1]:80"), { ok: true, value: { host: "::1", port: 80 } });
    assert.deepEqual(parseAddress("node-2.local:65535"), {
      ok: true,
      value: { host: "node-2.local", port: 65535 },
    });
  });

  test("bad ports, missing parts, bare IPv6 and the wildcard are error values", () => {
    const failures: [string, string][] = [
      ["127.0.0.1", "invalid-address"],
      ["127.0.0.1:0", "invalid-address"],
      ["127.0.0.1:65536", "invalid-address"],
      ["127.0.0.1:-1", "invalid-address"],
      ["127.0.0.1:1e3", "invalid-address"],
      [":7401", "wildcard-address"],
      ["0.0.0.0:7401", "wildcard-address"],
      ["[::]:7401", "wildcard-address"],
      ["::1:7401", "invalid-address"],
      ["bad host:7401", "invalid-address"],
    ];
    for (const [address, expected] of failures) {
      const parsed = parseAddress(address);
      assert.equal(parsed.ok ? "ok" : parsed.error.code, expected, address);
    }
  });

  test("formatAddress brackets IPv6 hosts", () => {
    assert.equal(formatAddress("127.0.0.1", 1), "127.0.0.1:1");
    assert.equal(formatAddress("::1", 2), "[::1]:2");
  });
});
