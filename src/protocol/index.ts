/**
 * The RFC 6455 / RFC 7692 engine, sans-I/O: bytes in, events out; messages in, bytes out.
 * @module
 */
export { Opcode, CloseCode, isValidWireCloseCode, isControlOpcode } from './opcodes.js';
export { ProtocolError, UsageError, type ProtocolErrorCode } from './errors.js';
export { applyMask } from './mask.js';
export { Utf8Validator, isValidUtf8 } from './utf8.js';
export { parseClosePayload, buildClosePayload, type CloseInfo } from './close.js';
export { encodeFrame, encodeHeader, encodeTextFrame, headerLength, prepareFrame, writeHeader, RSV1, RSV2, RSV3 } from './frame-writer.js';
export { FrameParser, type FrameHandler, type FrameRangeHandler, type FrameParserOptions } from './frame-parser.js';
export { MessageAssembler, type MessageSink } from './message-assembler.js';
export { MessageSlab } from './message-slab.js';
export { OutputArena } from './output-arena.js';
export { PreparedMessage, prepareMessage } from './prepared-message.js';
export { ProtocolConnection, State, type Frame, type ProtocolSink, type ProtocolOptions } from './connection.js';
export * from './handshake.js';
export { parseExtensions, parseTokenList, formatExtension } from './header-tokens.js';
export type * from './extensions/extension.js';
export { PerMessageDeflate, type PerMessageDeflateOptions } from './extensions/permessage-deflate.js';
export { DeflateFrame, type DeflateFrameOptions } from './extensions/deflate-frame.js';
