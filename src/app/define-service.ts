/**
 * The smallest import for a service file: `defineService` and the command helpers, with no
 * runtime dependencies (service files loaded through tsx import this cheaply).
 */
export { defineService, defineCommand, type ServiceOptions, type Connection, type CommandCall, type HandshakeRequest } from './service.js';
export { CommandError, CommandErrorCode } from './command-error.js';
