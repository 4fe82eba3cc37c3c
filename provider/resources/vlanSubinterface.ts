// State written by pulumi-underlay 0.1 names this module in its serialized provider (see
// dynamic.ts), so read and delete of those resources load the provider from here.
export { vlanSubinterfaceProvider } from "./link/vlanSubinterface";
