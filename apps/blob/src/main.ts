import 'reflect-metadata';
import { loadConfig } from '@wharf/config';
import { exitOnSignal, tuneHeap, tuneThreadpool } from '@wharf/transport';
import { startBlob } from './blob-app';

tuneHeap();
tuneThreadpool();
startBlob(loadConfig())
  .then((service) => exitOnSignal(service, (msg) => console.error(msg)))
  .catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
