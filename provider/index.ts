// Public exports only.

import type { InputsOf } from "./dynamic";
import type { ConnectionArgs } from "./connection";

export { MacvlanNetwork, MacvlanNetworkArgs, MacvlanNetworkState } from "./resources/macvlanNetwork";
export { IpvlanNetwork, IpvlanNetworkArgs, IpvlanNetworkState } from "./resources/ipvlanNetwork";
export { VlanSubinterface, VlanSubinterfaceArgs, VlanSubinterfaceState } from "./resources/vlanSubinterface";
export { HostShim, HostShimArgs, HostShimState } from "./resources/hostShim";
export { closeAllSessions } from "./connection";

/** How a resource reaches its Docker host over SSH (every field may be a Pulumi Output). */
export type Connection = InputsOf<ConnectionArgs>;
