// The LAN every unit test and the benchmark describe: a /24 with its router, a /26 Docker may
// hand out, and the host shim's address reserved.

export const SAMPLE_LAN = {
  name: "lan",
  parent: "eth1",
  subnet: "198.51.100.0/24",
  gateway: "198.51.100.1",
  ipRange: "198.51.100.128/26",
  auxAddresses: { shim: "198.51.100.250" },
};
