import { Buffer } from 'node:buffer';
import { CloseCode, isValidWireCloseCode } from './opcodes.js';
import { ProtocolError, UsageError } from './errors.js';
import { isValidUtf8 } from './utf8.js';

export interface CloseInfo {
  code: number;
  reason: string;
}

/** Parse a received Close frame payload (RFC 6455 section 5.5.1). Throws ProtocolError. */
export function parseClosePayload(payload: Uint8Array): CloseInfo {
  if (payload.length === 0) return { code: CloseCode.NO_STATUS_RCVD, reason: '' };
  if (payload.length === 1) {
    throw new ProtocolError('ERR_WS_INVALID_CLOSE_PAYLOAD', 'close frame payload of 1 byte');
  }
  const code = (payload[0]! << 8) | payload[1]!;
  if (!isValidWireCloseCode(code)) {
    throw new ProtocolError('ERR_WS_INVALID_CLOSE_CODE', `invalid close code ${code}`);
  }
  const reasonBytes = payload.subarray(2);
  if (!isValidUtf8(reasonBytes)) {
    throw new ProtocolError(
      'ERR_WS_INVALID_UTF8',
      'close reason is not valid UTF-8',
      CloseCode.INVALID_FRAME_PAYLOAD_DATA,
    );
  }
  return { code, reason: Buffer.from(reasonBytes.buffer, reasonBytes.byteOffset, reasonBytes.length).toString('utf8') };
}

/**
 * Build a Close frame payload for sending. `code` undefined sends an empty payload
 * (reported to the peer as 1005). Throws UsageError for codes that may not be sent.
 */
export function buildClosePayload(code?: number, reason = ''): Buffer {
  if (code === undefined) {
    if (reason) throw new UsageError('ERR_CLOSE_REASON_WITHOUT_CODE', 'a close reason needs a close code');
    return Buffer.alloc(0);
  }
  if (!Number.isInteger(code) || !isValidWireCloseCode(code)) {
    throw new UsageError('ERR_INVALID_CLOSE_CODE', `close code ${code} may not be sent`);
  }
  const len = Buffer.byteLength(reason);
  if (len > 123) throw new UsageError('ERR_CLOSE_REASON_TOO_LONG', 'close reason longer than 123 bytes');
  const buf = Buffer.allocUnsafe(2 + len);
  buf.writeUInt16BE(code, 0);
  buf.write(reason, 2, 'utf8');
  return buf;
}
