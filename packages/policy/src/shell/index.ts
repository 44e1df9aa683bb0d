export {
  compileShellPolicy,
  DEFAULT_SHELL_GUARDRAIL,
  ShellPolicy,
  type CommandContext,
  type CommandDecision,
} from './decide.js';
export { analyzeCommandLine, parseCommandLine, type ShellAnalysis, type SimpleCommand } from './analyze.js';
export { CONSTRUCT_KINDS, type Construct, type ConstructKind } from './constructs.js';
export { PROGRAM_RUNNERS } from './runners/index.js';
