import 'reflect-metadata';
import { loadConfig, tuneHeap, tuneThreadpool } from '@wharf/config';
import { exitOnSignal } from '@wharf/transport';
import { startGateway } from './gateway-app';

tuneHeap();
tuneThreadpool();
startGateway(loadConfig())
  .then((service) => exitOnSignal(service, (msg) => console.error(msg)))
  .catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
