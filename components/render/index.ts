export * from "./diskScript";
export * from "./files";
export * from "./rollScripts";
export * from "./shell";
export * from "./sysctlScript";
export * from "./versionShell";
export * from "./zfsScript";
