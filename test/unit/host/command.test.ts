import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import { quoteWord, toRemoteCommand } from "../../../provider/host/command";

describe("command quoting", () => {
  it("leaves safe words alone and single-quotes the rest", () => {
    assert.equal(quoteWord("eth0.50"), "eth0.50");
    assert.equal(quoteWord("parent=eth1"), "parent=eth1");
    assert.equal(quoteWord("a b"), "'a b'");
    assert.equal(quoteWord("it's"), "'it'\\''s'");
    assert.equal(quoteWord(""), "''");
  });

  it("survives a real POSIX shell byte for byte", () => {
    const nasty = ["$(touch /tmp/pwned)", "`id`", "a;b", "x'y\"z", "new\nline", "*", "~root", "-rf", "\\", "${HOME}"];
    const command = toRemoteCommand(["printf", "%s\\0", ...nasty], { sudo: false });
    const out = execFileSync("sh", ["-c", command]).toString("utf8");
    assert.deepEqual(out.split("\0").slice(0, -1), nasty);
  });

  it("prefixes sudo -n and pins the locale", () => {
    assert.equal(toRemoteCommand(["ip", "-j", "link"], { sudo: true }), "env LC_ALL=C sudo -n -- ip -j link");
  });

  it("refuses NUL bytes and empty commands", () => {
    assert.throws(() => quoteWord("a\0b"), /NUL/);
    assert.throws(() => toRemoteCommand([], { sudo: false }), /empty/);
  });
});
