import 'reflect-metadata';
import { loadConfig, tuneHeap, tuneThreadpool } from '@wharf/config';
import { exitOnSignal } from '@wharf/transport';
import { startMetadata } from './metadata-app';

tuneHeap();
tuneThreadpool();
startMetadata(loadConfig())
  .then((service) => exitOnSignal(service, (msg) => console.error(msg)))
  .catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
