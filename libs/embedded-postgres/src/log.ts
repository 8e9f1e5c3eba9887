export type EmbeddedPostgresLogLevel = 'debug' | 'info' | 'warn' | 'error';

export type Log = (level: EmbeddedPostgresLogLevel, msg: string) => void;
