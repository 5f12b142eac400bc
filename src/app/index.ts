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
  type Isolation,
} from './service.js';
export { CommandError, CommandErrorCode, type CommandErrorBody } from './command-error.js';
export type { StandardSchemaV1, ValidationIssue } from './standard-schema.js';
export { sessionCookie, signSession, verifySession, jwtBearer, httpBasic, type User, type AuthResolver, type SessionCookieOptions, type JwtBearerOptions, type HttpBasicOptions } from './auth/index.js';
export { App, type AppOptions, type Admission, type Decision, type ConnectionSummary, type RoomSummary } from './app.js';
export type { AppObserver } from './observer.js';
export type { ConnectionPort, Framer } from './connection-port.js';
export type { ServiceSummary, ServiceState, RescanResult, BackgroundFile } from './service-catalog.js';
export { readServiceDeclaration, DeclarationError, type ServiceDeclaration } from './service-declaration.js';
export { InlineHost, inlineHostFactory } from './inline-host.js';
export { ServiceLoadError, loadServiceDefinition } from './service-loader.js';
export { RouteResolver, routeSegments } from './route-resolver.js';
export { RoomIndex, type RoomIndexOptions } from './rooms/room-index.js';
export { LocalRooms } from './rooms/local-rooms.js';
export type { Rooms, RoomMember, RoomDelivery } from './rooms/rooms.js';
export type { ServiceHost, ServiceHostFactory, ServiceHostFactories, HostSink, HostAction, HostQuery, HostAnswers, HostStatus, ServiceInfo, OpenInfo, CloseReply, HostHandshakeResult, Target } from './service-host.js';
export type { Logger } from './logger.js';
export { serviceTester, MemorySocket, MemoryFramer, HandshakeRejected, testRequest, type ServiceTester, type TestConnection, type MemoryFramed } from './testing.js';
