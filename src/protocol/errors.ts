import { CloseCode } from './opcodes.js';

/** Stable error codes for failures caused by the peer; each maps to one close code. */
export type ProtocolErrorCode =
  | 'ERR_WS_UNMASKED_FRAME'
  | 'ERR_WS_MASKED_FRAME'
  | 'ERR_WS_RESERVED_BITS'
  | 'ERR_WS_RESERVED_OPCODE'
  | 'ERR_WS_CONTROL_FRAME_TOO_LONG'
  | 'ERR_WS_FRAGMENTED_CONTROL_FRAME'
  | 'ERR_WS_UNEXPECTED_CONTINUATION'
  | 'ERR_WS_EXPECTED_CONTINUATION'
  | 'ERR_WS_INVALID_LENGTH'
  | 'ERR_WS_INVALID_UTF8'
  | 'ERR_WS_INVALID_CLOSE_PAYLOAD'
  | 'ERR_WS_INVALID_CLOSE_CODE'
  | 'ERR_WS_FRAME_TOO_BIG'
  | 'ERR_WS_MESSAGE_TOO_BIG'
  | 'ERR_WS_DECOMPRESSION_FAILED'
  | 'ERR_WS_EXTENSION';

/** The peer broke RFC 6455/7692. Never thrown out of the core: it becomes `fail(closeCode)`. */
export class ProtocolError extends Error {
  readonly code: ProtocolErrorCode;
  readonly closeCode: number;
  constructor(code: ProtocolErrorCode, message: string, closeCode: number = CloseCode.PROTOCOL_ERROR) {
    super(message);
    this.name = 'ProtocolError';
    this.code = code;
    this.closeCode = closeCode;
  }
}

/** Our caller broke a rule (send after close, invalid close code, bad option). Thrown synchronously. */
export class UsageError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'UsageError';
    this.code = code;
  }
}
