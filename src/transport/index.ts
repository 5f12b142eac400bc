/**
 * The WebSocket server and client over node:net / node:tls / node:http sockets.
 * @module
 */
export { WebSocketServer, type ServerOptions, type ServerEvents, type HandshakeResult } from './server.js';
export { WebSocket, SendStatus, ReadyState, PreparedMessage, prepareMessage, type WebSocketEvents } from './websocket.js';
export { connect, HandshakeError, type ClientOptions } from './client.js';
export { ClientGroup } from './client-group.js';
export { type UpgradeRequest, parseCookies } from './upgrade-request.js';
export { DEFAULT_LIMITS, resolveLimits, type Limits } from './limits.js';
export { ZlibCodecPool, type ZlibPoolOptions } from './zlib-codec.js';
export { ReconnectingWebSocket, reconnecting, type ReconnectOptions, type ReconnectingEvents } from './reconnecting.js';
