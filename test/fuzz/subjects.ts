// Everything the fuzz targets exercise, imported in one place: when a module under test
// moves, only this file changes.
export * from '../../src/protocol/index.js';
export { ZlibCodecPool } from '../../src/transport/index.js';
export { decodeEnvelope, type Envelope } from '../../src/app/command-envelope.js';
export { CommandErrorCode, RouteResolver, routeSegments } from '../../src/app/index.js';
export { ConfigError, loadConfig, parseConfigFlags, configSchema } from '../../src/runtime/config.js';
