/**
 * Switchboard: a WebSocket server and client (RFC 6455, RFC 7692) and application server.
 * @module
 */
export * from './transport/index.js';
export {
  Opcode,
  CloseCode,
  ProtocolError,
  UsageError,
  PerMessageDeflate,
  DeflateFrame,
  type Frame,
  type Extension,
  type ExtensionFactory,
  type PerMessageDeflateOptions,
  type DeflateFrameOptions,
} from './protocol/index.js';

// The application server: services, commands, rooms, auth (see README "Application server").
export * from './app/index.js';
export { AppServer, type AppServerOptions, type AppServerEvents, type ListenAddress } from './server/app-server.js';
export type { HttpRoute } from './server/http-routes.js';
export {
  createClient,
  CommandClient,
  ClientCommandError,
  ClientConnectError,
  nodeSocketFactory,
  browserSocketFactory,
  type CommandClientOptions,
  type ClientReconnectOptions,
  type ApiOf,
  type NotAServiceDefinition,
  type Api,
  type BuiltinApi,
  type JoinReply,
  type Push,
  type OpenEvent,
  type ReconnectingEvent,
} from './client/index.js';

// The runtime's types. Its code (startServer: supervised services, control socket, logs,
// metrics) is the `switchboard/runtime` entry, so the library does not load it.
export type { RunningServer, StartServerOptions } from './server/start-server.js';
export type { BackgroundContext, ServiceHandle } from './runtime/background-service.js';
