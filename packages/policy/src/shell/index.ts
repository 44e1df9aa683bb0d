export { compileShellPolicy, DEFAULT_SHELL_GUARDRAIL, ShellPolicy, type CommandDecision } from './decide.js';
export { parseCommandLine, type SimpleCommand } from './parse.js';
