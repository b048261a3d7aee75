export * from "./connection";
export * from "./GuestSysctl";
export * from "./HomelabCluster";
export * from "./K3sNode";
export * from "./ProxmoxHost";
export * from "./reports";
export * from "./rollPlan";
export * from "./render";
