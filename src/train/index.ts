export * from './evaluate';
export * from './batches';
export * from './checkpoint';
export * from './metrics-log';
export * from './progress';
export * from './trainer';
