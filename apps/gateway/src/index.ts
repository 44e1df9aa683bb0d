export { Gateway, type GatewayOptions, type GatewayAddresses } from './gateway.js';
