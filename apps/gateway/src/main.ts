import 'reflect-metadata';
import { loadConfig } from '@wharf/config';
import { exitOnSignal, tuneHeap, tuneThreadpool } from '@wharf/transport';
import { startGateway } from './gateway-app';

tuneHeap();
tuneThreadpool();
startGateway(loadConfig())
  .then((service) => exitOnSignal(service, (msg) => console.error(msg)))
  .catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
