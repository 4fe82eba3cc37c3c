import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import { toRemoteCommand } from "../../../provider/host/command";
import { buildSessionPeerShow, parseRouteGet, parseSessionPeer } from "../../../provider/host/session";

describe("the SSH session's path on the host", () => {
  it("reads the peer from $SSH_CONNECTION, canonical, and nothing when sshd did not know it", () => {
    assert.equal(parseSessionPeer("SSH_CONNECTION=198.18.0.1 51234 198.18.0.2 22\n"), "198.18.0.1");
    assert.equal(parseSessionPeer("SSH_CONNECTION=::ffff:198.18.0.1 51234 ::ffff:198.18.0.2 22\n"), "198.18.0.1");
    assert.equal(parseSessionPeer("SSH_CONNECTION=FD18:0:0:0:0:0:0:1 51234 fd18::2 22\n"), "fd18::1");
    assert.equal(parseSessionPeer("SSH_CONNECTION=UNKNOWN 65535 UNKNOWN 65535\n"), undefined);
    assert.equal(parseSessionPeer("SSH_CONNECTION=\nSSH_CONNECTION=198.18.0.5 1 198.18.0.6 22\n"), "198.18.0.5");
    assert.equal(parseSessionPeer(""), undefined);
  });

  it("finds $SSH_CONNECTION in a real sh, also when the command's own environment lost it (sudo resets it)", () => {
    const env = { ...process.env, SSH_CONNECTION: "198.18.7.1 40000 198.18.7.2 22" };
    const direct = execFileSync("sh", ["-c", toRemoteCommand(buildSessionPeerShow(), { sudo: false })], { env }).toString();
    assert.equal(parseSessionPeer(direct), "198.18.7.1");
    // The command runs with SSH_CONNECTION removed, as sudo's env_reset leaves it; its parent still has it.
    const stripped = ["env", "-u", "SSH_CONNECTION", ...buildSessionPeerShow()];
    const viaParent = execFileSync("sh", ["-c", `${toRemoteCommand(stripped, { sudo: false })}; true`], { env }).toString();
    assert.equal(parseSessionPeer(viaParent), "198.18.7.1");
  });

  it("reads the route in use from `ip -j route get`", () => {
    assert.deepEqual(parseRouteGet('[{"dst":"198.18.0.1","dev":"eth0","prefsrc":"198.18.0.2","flags":[],"uid":0,"cache":[]}]'), {
      dev: "eth0",
      gateway: undefined,
      type: undefined,
    });
    assert.deepEqual(parseRouteGet('[{"dst":"203.0.113.9","gateway":"198.18.0.1","dev":"eth0","flags":[]}]')?.gateway, "198.18.0.1");
  });
});
