export * from "./etcdDiskProps";
export * from "./etcdDiskTransform";
export * from "./vmLegacy";
