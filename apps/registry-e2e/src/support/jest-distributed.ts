// The e2e-distributed jest project: the same API suite, against the distributed shape.
process.env.WHARF_E2E_SHAPE = 'distributed';
