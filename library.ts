// The library's public API (package.json `exports`): the components, the config builder and its
// types, and the transform for VMs managed with @muhlba91/pulumi-proxmoxve. `index.ts`, the
// stack-file program, is one user of the same modules.
export * from "./components";
export * from "./config";
export * from "./proxmoxve";
export { refusalError } from "./errorStack";
