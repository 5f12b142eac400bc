// ws://host/chat — rooms, commands and auth together, over the JSON command protocol.
//
//   sign in:  at the handshake with a session cookie (sb_session), `Authorization: Bearer <jwt>`
//             or `?access_token=<jwt>`, or HTTP Basic (demo user alice / wonderland);
//             or afterwards with {"cmd":"auth","data":{"token"|"session"|"username"+"password"}},
//             or as a guest with {"cmd":"login","data":{"name":"ann"}}.
//   rooms:    {"cmd":"room.join","data":{"room":"lobby"}} -> {"pos":{"e","o"}}; rejoin with "since" to recover.
//   talk:     {"cmd":"say","data":{"room":"lobby","text":"hi"}} -> room.message pushes to members.
//   who:      {"cmd":"room.presence","data":{"room":"lobby"}}
import { z } from 'zod';
import { defineService, CommandError, httpBasic, jwtBearer, sessionCookie } from 'switchboard';

// Demo secret: set SWITCHBOARD_CHAT_SECRET (32+ bytes) for anything real.
const secret = process.env['SWITCHBOARD_CHAT_SECRET'] ?? 'switchboard-demo-secret-change-me-please';

interface ConnState {
  said: number;
}
interface Shared {
  messages: number;
}

export default defineService<ConnState, Shared>({
  auth: [sessionCookie({ secret }), jwtBearer({ secret }), httpBasic({ realm: 'chat', verify: (user, password) => (user === 'alice' && password === 'wonderland' ? { id: 'alice', name: 'Alice' } : null) })],
  state: () => ({ messages: 0 }),
  connectionState: () => ({ said: 0 }),
  // only signed-in users may join rooms
  rooms: { join: (connection) => connection.isAuthenticated },

  open(connection) {
    connection.push('welcome', { id: connection.id, user: connection.user });
  },

  commands: {
    login: {
      input: z.object({ name: z.string().trim().min(1).max(32) }),
      handler({ name }, { connection }) {
        const user = { id: `guest:${name}`, name };
        connection.setUser(user);
        return { user };
      },
    },
    say: {
      auth: true,
      input: z.object({ room: z.string().min(1).max(200), text: z.string().min(1).max(2000) }),
      guard: (connection, { room }) => connection.rooms.has(room),
      async handler({ room, text }, { connection, service }) {
        connection.state.said += 1;
        service.state.messages += 1;
        const pos = await service.publish(room, { from: connection.user?.name ?? connection.user?.id, text });
        return { pos };
      },
    },
    whoami: {
      handler: (_data, { connection }) => ({ id: connection.id, user: connection.user, said: connection.state.said, rooms: [...connection.rooms] }),
    },
    stats: {
      handler: (_data, { service }) => ({ messages: service.state.messages, connections: service.connections().length }),
    },
    slow: {
      // shows cancellation: the handler's signal aborts on timeout or disconnect
      input: z.object({ ms: z.number().int().min(0).max(60_000) }),
      timeoutMs: 2000,
      handler: ({ ms }, { signal }) =>
        new Promise((resolve, reject) => {
          const t = setTimeout(() => resolve({ waited: ms }), ms);
          signal.addEventListener('abort', () => {
            clearTimeout(t);
            reject(new CommandError('cancelled', 'aborted'));
          });
        }),
    },
  },
});
