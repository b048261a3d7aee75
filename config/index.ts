export * from "./build";
export * from "./k3sKeys";
export * from "./problems";
export * from "./schema";
export * from "./spec";
export * from "./stackFile";
export * from "./version";
export * from "./fromPulumi";
