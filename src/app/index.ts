/** The application layer: services, commands, rooms, auth, and the app server. */
export {
  defineService,
  defineCommand,
  isServiceDefinition,
  type ServiceDefinition,
  type ServiceOptions,
  type Connection,
  type ServiceContext,
  type CommandCall,
  type CommandDefinition,
  type HandshakeRequest,
  type HandshakeDecision,
  type RoomOptions,
  type Position,
  type RoomMessage,
  type JoinResult,
  type PresenceEntry,
  type SendOptions,
} from './service.js';
export { CommandError, CommandErrorCode, type CommandErrorBody } from './command-error.js';
export type { StandardSchemaV1, ValidationIssue } from './standard-schema.js';
export { sessionCookie, signSession, verifySession, jwtBearer, httpBasic, type User, type AuthResolver, type SessionCookieOptions, type JwtBearerOptions, type HttpBasicOptions } from './auth/index.js';
export { AppServer, type AppServerOptions, type AppServerEvents } from './app-server.js';
export { AppCore, type AppCoreOptions, type Admission, type Decision } from './app-core.js';
export { InlineHost, inlineHostFactory } from './inline-host.js';
export { ServiceLoadError, loadServiceDefinition } from './service-loader.js';
export { RouteResolver, routeSegments } from './route-resolver.js';
export { RoomIndex, type RoomIndexOptions } from './room-index.js';
export type { ServiceHost, ServiceHostFactory, HostSink, HostAction, HostQuery, HostAnswers, ServiceInfo, OpenInfo, CloseReply, HostHandshakeResult, Target } from './service-host.js';
export type { PeerSocket, Framer } from './peer-socket.js';
export type { Logger } from './logger.js';
export { serviceTester, MemorySocket, MemoryFramer, HandshakeRejected, testRequest, type ServiceTester, type TestConnection } from './testing.js';
