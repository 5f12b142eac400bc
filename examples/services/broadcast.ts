// ws://host/broadcast — every text message is sent to all /broadcast connections
// (the sender included), framed once for all of them.
import { defineService } from 'switchboard';

export default defineService({
  message(connection, data) {
    if (typeof data === 'string') connection.service.broadcastRaw(data);
  },
});
