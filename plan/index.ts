export * from "./batches";
export * from "./disk";
export * from "./preflight";
export * from "./health";
export * from "./observed";
export * from "./installState";
export * from "./restarting";
export * from "./effectiveConfig";
