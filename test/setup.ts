import { setDefaultTimeout } from 'bun:test';

process.env.NODE_ENV = 'test';
setDefaultTimeout(60_000);
