import { withInspectSafeErrors } from "./errorStack";
import { homelabProgram } from "./program";

export = () => withInspectSafeErrors(homelabProgram);
