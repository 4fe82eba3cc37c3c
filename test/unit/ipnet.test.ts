import { strict as assert } from "node:assert";
import {
  canonicalAddress,
  canonicalPrefix,
  containsPrefix,
  formatAddress,
  parseAddress,
  parsePrefix,
  prefixesOverlap,
} from "../../provider/ipnet";

describe("ipnet", () => {
  it("round-trips IPv4 and canonicalises IPv6 per RFC 5952", () => {
    assert.equal(canonicalAddress("198.51.100.7"), "198.51.100.7");
    assert.equal(canonicalAddress("FD18:0:0:0:0:0:0:1"), "fd18::1");
    assert.equal(canonicalAddress("fd18:0:0:1:0:0:0:1"), "fd18:0:0:1::1");
    assert.equal(canonicalAddress("2001:db8:0:0:1:0:0:1"), "2001:db8::1:0:0:1");
    assert.equal(canonicalAddress("::"), "::");
    assert.equal(canonicalAddress("::ffff:198.51.100.1"), "::ffff:c633:6401");
    const parsed = parseAddress("fd18::abcd:1");
    assert.ok(parsed);
    assert.equal(formatAddress(parsed), "fd18::abcd:1");
  });

  it("rejects what is not an address", () => {
    for (const bad of ["", "198.51.100", "198.51.100.256", "fe80::1%eth0", "x", "1.2.3.4/24"]) {
      assert.equal(parseAddress(bad), undefined, bad);
    }
    for (const bad of ["198.51.100.0", "198.51.100.0/33", "fd18::/129", "198.51.100.0/", "198.51.100.0/ab"]) {
      assert.equal(parsePrefix(bad), undefined, bad);
    }
  });

  it("answers containment and overlap", () => {
    const p = (t: string) => {
      const prefix = parsePrefix(t);
      assert.ok(prefix, t);
      return prefix;
    };
    assert.ok(containsPrefix(p("198.51.100.0/24"), p("198.51.100.128/26")));
    assert.ok(!containsPrefix(p("198.51.100.0/25"), p("198.51.100.128/26")));
    assert.ok(prefixesOverlap(p("198.51.100.0/24"), p("198.51.100.0/25")));
    assert.ok(!prefixesOverlap(p("198.51.100.0/25"), p("198.51.100.128/25")));
    assert.ok(!prefixesOverlap(p("198.51.100.0/24"), p("fd18::/64")));
    assert.ok(prefixesOverlap(p("fd18::/48"), p("fd18:0:0:5::/64")));
  });

  it("prints host routes with their full length", () => {
    assert.equal(canonicalPrefix("198.51.100.130"), "198.51.100.130/32");
    assert.equal(canonicalPrefix("fd18::1"), "fd18::1/128");
    assert.equal(canonicalPrefix("FD18:0::/64"), "fd18::/64");
  });
});
