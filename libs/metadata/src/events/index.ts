export * from './envelope';
export * from './outbox';
export * from './relay';
export * from './events.providers';
export { eventLag, type EventLag } from '../store';
