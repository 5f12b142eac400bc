// ws://host/echo — sends every message back as it came (text as text, binary as binary).
// Speaks the `echo.v1` subprotocol when the client offers it; answers a close with the
// client's own code and reason (the transport's default passive close).
import { defineService } from 'switchboard';

export default defineService({
  handshake(request) {
    return request.protocols.includes('echo.v1') ? { protocol: 'echo.v1' } : undefined;
  },
  message(connection, data) {
    connection.send(data);
  },
});
