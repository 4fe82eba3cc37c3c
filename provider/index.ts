// Public exports only.

import type { InputsOf } from "./dynamic";
import type { ConnectionArgs } from "./ssh/connection";

export { HostShim, HostShimArgs, HostShimState } from "./resources/link/hostShim";
export { VlanSubinterface, VlanSubinterfaceArgs, VlanSubinterfaceState } from "./resources/link/vlanSubinterface";
export { IpvlanNetwork, IpvlanNetworkArgs, IpvlanNetworkState } from "./resources/network/ipvlan";
export { MacvlanNetwork, MacvlanNetworkArgs, MacvlanNetworkState } from "./resources/network/macvlan";
export { closeAllSessions } from "./ssh/pool";

/** How a resource reaches its Docker host over SSH (every field may be a Pulumi Output). */
export type Connection = InputsOf<ConnectionArgs>;
