import { homelabProgram } from "./program";

export = homelabProgram;
