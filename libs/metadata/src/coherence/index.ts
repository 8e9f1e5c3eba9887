export * from './cache-coherence';
export * from './cache-holders.service';
export * from './coherence.providers';
