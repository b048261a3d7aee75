export * from "./connection";
export * from "./GuestSysctl";
export * from "./HomelabCluster";
export * from "./K3sNode";
export * from "./NodeRepair";
export * from "./ownedVm";
export * from "./ProxmoxHost";
export * from "./reports";
export * from "./rollPlan";
// The render functions live in ../render (the ground floor), imported from there directly.
export * from "./NodeLiveState";
