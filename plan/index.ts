export * from "./disk";
export * from "./preflight";
