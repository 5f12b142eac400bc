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
