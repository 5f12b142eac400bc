/**
 * The Lua scripts of the Redis adapter. Each touches the keys of one room only (one hash
 * slot), so each is atomic on one Redis and on Redis Cluster alike.
 *
 * Offsets are dense per room (1, 2, 3 ...) under an epoch, so a follower sees every gap.
 * A new epoch starts when a room's meta is missing (new room, expired, lost in a restart
 * without persistence) or when the store's counter went back below an offset already handed
 * out (a restore from an old snapshot, a failover to a lagging replica): then no offset ever
 * names two different messages.
 */
import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';
import { RESP_TYPES } from '@redis/client';
import type { Client } from './redis-connection.js';

export interface Script {
  readonly source: string;
  readonly sha: string;
}

function script(source: string): Script {
  return { source, sha: createHash('sha1').update(source).digest('hex') };
}

/**
 * Shared by the scripts below: the room's {epoch, offset}, made or renewed when the meta is
 * missing, or when it is behind `seen` (an offset this node saw in that epoch) or behind the
 * log's last entry.
 */
const POSITION = `
local function position(meta, log, newEpoch, seenEpoch, seenOffset)
  local m = redis.call('HMGET', meta, 'e', 's')
  local e, s = m[1], tonumber(m[2] or '0')
  local back = false
  if e then
    if e == seenEpoch and s < seenOffset then back = true end
    local last = redis.call('XREVRANGE', log, '+', '-', 'COUNT', 1)[1]
    if last and tonumber(string.match(last[1], '^(%d+)')) > s then back = true end
  end
  if not e or back then
    e, s = newEpoch, 0
    redis.call('HSET', meta, 'e', e, 's', 0)
    redis.call('DEL', log)
  end
  return e, s
end
`;

/**
 * KEYS: meta, log. ARGV: payload, historySize, historyTtlMs, metaTtlMs, newEpoch, live
 * channel, seenEpoch, seenOffset. Numbers, stores and publishes one message; returns {e, o}.
 * The published copy carries its position in front: "<o>:<e>:<payload>".
 */
export const APPEND = script(
  `${POSITION}
local e, s = position(KEYS[1], KEYS[2], ARGV[5], ARGV[7], tonumber(ARGV[8]))
s = redis.call('HINCRBY', KEYS[1], 's', 1)
-- %d: Lua would write a large offset as 1e+14
local id = string.format('%d', s)
local size = tonumber(ARGV[2])
if size > 0 then
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', size, id .. '-0', 'd', ARGV[1])
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('PUBLISH', ARGV[6], id .. ':' .. e .. ':' .. ARGV[1])
return {e, s}
`,
);

/** KEYS: meta, log. ARGV: newEpoch, metaTtlMs, seenEpoch, seenOffset. The room's position ({e, o}), its epoch made if new. */
export const POSITION_OF = script(
  `${POSITION}
local e, s = position(KEYS[1], KEYS[2], ARGV[1], ARGV[3], tonumber(ARGV[4]))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return {e, s}
`,
);

/**
 * KEYS: meta, log. ARGV: afterEpoch, afterOffset, limit, upTo (-1: the top), historySize,
 * newEpoch, metaTtlMs. The payloads of offsets (after, upTo], if the history holds all of them:
 * {'ok', e, s, {payload...}} or {reason, e, s} with reason epoch | too_many | expired.
 */
export const READ = script(
  `${POSITION}
local e, s = position(KEYS[1], KEYS[2], ARGV[6], '', 0)
redis.call('PEXPIRE', KEYS[1], ARGV[7])
local after = tonumber(ARGV[2])
if e ~= ARGV[1] or after > s or after < 0 then return {'epoch', e, s} end
local to = tonumber(ARGV[4])
if to < 0 or to > s then to = s end
local missed = to - after
if missed <= 0 then return {'ok', e, s, {}} end
if missed > tonumber(ARGV[3]) then return {'too_many', e, s} end
-- the window is exactly historySize messages (MAXLEN ~ may keep a few more)
if after < s - tonumber(ARGV[5]) then return {'expired', e, s} end
local entries = redis.call('XRANGE', KEYS[2], string.format('%d-0', after + 1), string.format('%d-0', to))
if #entries ~= missed then return {'expired', e, s} end
local out = {}
for i, entry in ipairs(entries) do out[i] = entry[2][2] end
return {'ok', e, s, out}
`,
);

/**
 * KEYS: pres. ARGV: connId, entry JSON, presence channel, metaTtlMs. Writes an entry; a new
 * one is announced as a join. Returns 1 when it was new.
 */
export const PRESENCE_SET = script(
  `
local added = redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
if added == 1 then redis.call('PUBLISH', ARGV[3], '{"type":"join","entry":' .. ARGV[2] .. '}') end
return added
`,
);

/**
 * KEYS: pres. ARGV: connId, presence channel, lease ('' for any). Deletes an entry (only if it
 * was written under that lease) and announces the leave, once: whoever deletes it announces.
 * Returns the entry's JSON, or nil.
 */
export const PRESENCE_DELETE = script(
  `
local v = redis.call('HGET', KEYS[1], ARGV[1])
if not v then return false end
-- entries are written {"l":"<lease>",...}: the lease is compared without decoding the entry
if ARGV[3] ~= '' and string.sub(v, 1, #ARGV[3] + 7) ~= '{"l":"' .. ARGV[3] .. '"' then return false end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('PUBLISH', ARGV[2], '{"type":"leave","entry":' .. v .. '}')
return v
`,
);

export type ScriptArg = string | number | Buffer;

/** EVALSHA, falling back to EVAL (which also caches it) when Redis does not know the script yet. */
export async function runScript<T>(client: Client, s: Script, keys: string[], args: ScriptArg[], buffers = false): Promise<T> {
  const tail = [String(keys.length), ...keys, ...args.map((a) => (typeof a === 'number' ? String(a) : a))];
  const options = buffers ? { typeMapping: { [RESP_TYPES.BLOB_STRING]: Buffer } } : undefined;
  try {
    return (await client.sendCommand(['EVALSHA', s.sha, ...tail], options)) as T;
  } catch (err) {
    if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
    return (await client.sendCommand(['EVAL', s.source, ...tail], options)) as T;
  }
}
