export { Agent, AGENT_VERSION, type AgentOptions } from './agent.js';
