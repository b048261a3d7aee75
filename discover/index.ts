export type * from "./facts";
export type { Agreement } from "./agreement";
export { agree } from "./agreement";
export type { MatchedNode, Matching } from "./match";
export { matchNodes, netMac, vmDisks } from "./match";
export type { DiscoveredStack, DiscoverInput } from "./render";
export { hostKeyFingerprint, renderDiscoveredStack } from "./render";
export { k3sConfigAsRun } from "./guestConfig";
export {
  API_NODES_SCRIPT,
  parseApiNodes,
  parseGuestDiscovery,
  parseHostDiscovery,
  renderGuestDiscovery,
  renderHostDiscovery,
} from "./read";
export type { DiscoverArgs } from "./args";
export { keyscanLine, parseDiscoverArgs, USAGE } from "./args";
export type { Scanned } from "./trust";
export { CONFIRM_PROMPT, confirmed, fingerprintLines, keyChangedSinceScan } from "./trust";
