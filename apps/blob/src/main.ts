import 'reflect-metadata';
import { loadConfig, tuneHeap, tuneThreadpool } from '@wharf/config';
import { exitOnSignal } from '@wharf/transport';
import { startBlob } from './blob-app';

tuneHeap();
tuneThreadpool();
startBlob(loadConfig())
  .then((service) => exitOnSignal(service, (msg) => console.error(msg)))
  .catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
